"""The per-request context a handler receives, the signals it can raise, and a log helper."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

STORAGE_WARNING_EVERY_S = 10.0
_last_warning: dict[object, float] = {}


class CloseConnection(Exception):
    """Close the client's connection without a response (Kafka's answer to a failed acks=0
    Produce, and to requests that cannot be answered at all)."""


@dataclass(slots=True)
class RequestContext:
    broker: object  # hpbroker.handlers.context.BrokerContext
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    peer: str


def warn_storage_failure(logger: logging.Logger, key, message: str, *args) -> None:
    """Log a refused write at most once per STORAGE_WARNING_EVERY_S per ``key``: a full disk
    fails every request, and a log line for each would fill it faster."""
    now = time.monotonic()
    if now - _last_warning.get(key, -STORAGE_WARNING_EVERY_S) >= STORAGE_WARNING_EVERY_S:
        _last_warning[key] = now
        logger.warning(message, *args)
