"""When the log cleaner runs: one compacted partition at a time, built on a thread, installed on
the loop (the passes themselves: hpbroker/storage/cleaner.py).

Once per maintenance tick ``run`` either installs the pass the cleaner thread has built, or
plans one for the dirtiest compacted partition due for one and hands it to that thread. With
none due, the next look is log.cleaner.backoff.ms away, as Kafka's cleaner thread sleeps.
Internal topics compact their own way (the group coordinator).

Who may touch: the event loop of the process that holds the logs (the replica manager's); the
cleaner thread touches only the pass it builds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, wait

from hpbroker.metadata.topics import INTERNAL_TOPICS
from hpbroker.storage import LogManager, cleaner, swap
from hpbroker.storage.cleaner import CleanResult, dirtiness

log = logging.getLogger(__name__)


class LogCleaner:
    def __init__(self, config, logs: LogManager, rewriting=None):
        self.config = config
        self.logs = logs
        # brackets a pass's file moves of one partition (readers in other processes keep off
        # them: server/multiproc/handler_broker.py); nothing to do when all reads are here
        self.rewriting = rewriting or (lambda topic, index: contextlib.nullcontext())
        self._next_check = 0  # ms: when ``run`` looks for a dirty compacted log next
        self._pool: ThreadPoolExecutor | None = None  # the cleaner thread, made on first use
        self._cleaning = None  # (CleanPass, Future of its build, (topic, index)) while one is built

    def run(self, now: int | None = None) -> CleanResult | None:
        """The cleaner's turn; returns what a pass installed now did."""
        if self._cleaning is not None:
            return self._install_cleaned()
        if not self.config.get("log.cleaner.enable"):
            return None
        now = int(time.time() * 1000) if now is None else now
        if now < self._next_check:
            return None
        best = None
        for (topic, index), plog in self.logs.logs():
            if not plog.config.cleanup_compact or topic in INTERNAL_TOPICS:
                continue
            ratio = dirtiness(plog, now)
            if ratio is not None and (best is None or ratio > best[0]):
                best = (ratio, topic, index, plog)
        planned = None if best is None else cleaner.plan(best[3], now)
        if planned is None:
            self._next_check = now + self.config.get("log.cleaner.backoff.ms")
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-cleaner")
        self._cleaning = (planned, self._pool.submit(cleaner.build, planned), (best[1], best[2]))
        return None

    def _install_cleaned(self) -> CleanResult | None:
        planned, future, (topic, index) = self._cleaning
        if not future.done():
            return None
        self._cleaning = None
        try:
            future.result()
        except Exception:
            log.exception("cleaning %s-%d failed", topic, index)
            self._next_check = int(time.time() * 1000) + self.config.get("log.cleaner.backoff.ms")
            return None
        plog = self.logs.get(topic, index)
        if plog is None or plog.directory != planned.directory:
            shutil.rmtree(os.path.join(planned.directory, swap.WORK_DIR), ignore_errors=True)
            return None
        try:
            return cleaner.install(plog, planned, around_swap=lambda: self.rewriting(topic, index))
        except OSError:
            log.exception("cleaning %s-%d failed", topic, index)
            return None

    def wait(self, timeout: float | None = None) -> None:
        """Until the pass being built (if any) is built: tests, and ``stop``."""
        if self._cleaning is not None:
            wait([self._cleaning[1]], timeout)

    def stop(self) -> None:
        if self._cleaning is not None:
            planned, future, _ = self._cleaning
            planned.cancelled = True  # the thread drops its work at the next batch
            wait([future], 60)
            self._cleaning = None
            if future.done():  # built but not installed: not part of the log (open drops it too)
                shutil.rmtree(os.path.join(planned.directory, swap.WORK_DIR), ignore_errors=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
