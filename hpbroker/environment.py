"""The environment variables hpbroker reads, declared in one place with their documentation
(docs/configuration.md lists them). Every module reads them through ``value()`` / ``flag()``.

This module imports nothing of hpbroker: the compiled-or-pure choice (_speedups) reads it first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class EnvironmentVariable:
    name: str
    default: str
    doc: str


VARIABLES: dict[str, EnvironmentVariable] = {
    v.name: v
    for v in (
        EnvironmentVariable(
            "HPBROKER_EVENT_LOOP",
            "asyncio",
            "Event loop of every broker process, `asyncio` or `uvloop` (installed separately); --event-loop "
            "wins over it.",
        ),
        EnvironmentVariable(
            "HPBROKER_SCHEDULING",
            "adaptive",
            "Kernel scheduling policy of the broker's processes: `adaptive` (SCHED_BATCH only while a process "
            "moves bytes in bulk), `normal` or `batch`; --scheduling wins over it (tuning.md).",
        ),
        EnvironmentVariable(
            "HPBROKER_LOG_LEVEL", "INFO", "Log level (DEBUG, INFO, WARNING ...) when --log-level is not given."
        ),
        EnvironmentVariable(
            "HPBROKER_PURE",
            "",
            "Non-empty and not 0: use the pure-Python twins of the Cython modules instead of the compiled ones "
            "(the test suite's second pass).",
        ),
        EnvironmentVariable(
            "HPBROKER_REQUEST_RING_BYTES",
            str(16 << 20),
            "Size of each handler's shared-memory request ring in the multi-process topology, a power of two. "
            "The largest request a handler can take is half of it; the supervisor shrinks the rings when /dev/shm "
            "is short. Tests set it small to exercise back-pressure.",
        ),
        EnvironmentVariable(
            "HPBROKER_METADATA_SNAPSHOT_BYTES",
            str(4 << 20),
            "Room in shared memory for the topic registry the controller publishes to the other processes of the "
            "multi-process topology; a larger registry is read from __topics.json instead.",
        ),
        EnvironmentVariable(
            "HPBROKER_TEST_SUBPROCESS",
            "",
            "Tests: non-empty and not 0 runs the pytest plugin's broker (and the integration suite's) as a "
            "separate process instead of in the test process.",
        ),
        EnvironmentVariable(
            "HPBROKER_TEST_MODE",
            "",
            "Tests: `multiproc` runs every broker of the integration suite in the multi-process topology (2 "
            "processors, 2 handlers); `make test`'s third pass sets it.",
        ),
        EnvironmentVariable(
            "HPBROKER_TEST_REPLICA_FETCH_GATE",
            "",
            "Tests: a directory; while it exists a follower sends a Fetch only when `<dir>/allow` holds a number "
            "above the fetches it sent, and writes what it applied to `<dir>/applied` "
            "(hpbroker/replication/fetcher.py).",
        ),
        EnvironmentVariable(
            "HPBROKER_ZOOKEEPER_JAR",
            "/usr/share/java/zookeeper.jar",
            "Tests: the ZooKeeper server jar the test fixtures run (Debian's `zookeeper` package installs it there).",
        ),
        EnvironmentVariable(
            "HPB_MODEL_EXAMPLES",
            "60",
            "Tests: examples the model-based test of the log (tests/storage/test_log_model.py) runs; more to look "
            "harder for a sequence of appends, rolls and truncations that breaks it.",
        ),
    )
}


def value(name: str) -> str:
    """The variable's value, else its default."""
    return os.environ.get(name, VARIABLES[name].default)


def flag(name: str) -> bool:
    """A yes/no variable: set to anything but "" or "0"."""
    return value(name) not in ("", "0")
