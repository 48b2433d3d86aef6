"""Rate-limited warnings for writes the disk refused (ENOSPC, EFBIG, EIO).

A full disk fails every write that follows; a log line for each would fill it faster and bury
the first one. Callers key each warning by what failed (a partition, a handler's sync), so
distinct failures are all reported, each at most once per STORAGE_WARNING_EVERY_S.
"""

from __future__ import annotations

import logging
import time

STORAGE_WARNING_EVERY_S = 10.0
_last_warning: dict[object, float] = {}


def warn_storage_failure(logger: logging.Logger, key, message: str, *args) -> None:
    """Log a refused write at most once per STORAGE_WARNING_EVERY_S per ``key``."""
    now = time.monotonic()
    if now - _last_warning.get(key, -STORAGE_WARNING_EVERY_S) >= STORAGE_WARNING_EVERY_S:
        _last_warning[key] = now
        logger.warning(message, *args)
