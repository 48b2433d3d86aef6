"""Choosing between a Cython hot path and its pure-Python twin.

Every extension module built from ``cython/`` has a twin written in plain Python with the same
interface (the reference the parity tests compare against). ``load`` returns the compiled module
unless ``HPBROKER_PURE=1`` asks for the twins. If a compiled module fails to import, the twin is
used and the failure is recorded in ``FALLBACKS``: the broker keeps working, and the test suite
(tests/test_speedups.py) fails, so a broken build never passes silently.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

from hpbroker import environment

log = logging.getLogger(__name__)

PURE = environment.flag("HPBROKER_PURE")

#: compiled module name -> import error text, for every extension that failed to load
FALLBACKS: dict[str, str] = {}
#: compiled module name -> the module actually in use (compiled or twin)
LOADED: dict[str, ModuleType] = {}


def load(compiled: str, pure: str) -> ModuleType:
    """Import ``compiled`` (e.g. ``hpbroker.records._cbatch``) or its twin ``pure``."""
    if not PURE:
        try:
            mod = importlib.import_module(compiled)
            LOADED[compiled] = mod
            return mod
        except ImportError as exc:  # a build problem: keep serving, but make it visible
            FALLBACKS[compiled] = str(exc)
            log.warning("compiled module %s unavailable (%s); using %s", compiled, exc, pure)
    mod = importlib.import_module(pure)
    LOADED[compiled] = mod
    return mod
