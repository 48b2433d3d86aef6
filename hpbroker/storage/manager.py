"""LogManager: the partition logs under one or more ``log.dirs``.

Layout: ``<log dir>/<topic>-<partition>/``. Topic names may contain '-' and '.', so a directory
name is split on its last '-'. New partitions go to the log dir holding the fewest partitions
(Kafka's rule). Retention and flush run when the owner calls ``run_maintenance`` from its own
timer: this class starts no threads.

Who may touch it: the process that writes these partitions (a handler owns the partitions it is
assigned; each handler may keep its own LogManager over the same dirs as long as no partition is
owned twice). One thread at a time.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator

from hpbroker.storage.config import LogConfig
from hpbroker.storage.log import PartitionLog, now_ms

log = logging.getLogger(__name__)


def parse_topic_partition(name: str) -> tuple[str, int] | None:
    topic, sep, part = name.rpartition("-")
    if not sep or not topic or not part.isdigit():
        return None
    return topic, int(part)


class LogManager:
    def __init__(self, log_dirs: list[str], default_config: LogConfig | None = None, *, partition_filter=None):
        if not log_dirs:
            raise ValueError("at least one log dir is needed")
        self.log_dirs = [os.path.abspath(d) for d in log_dirs]
        self.default_config = default_config or LogConfig()
        #: optional (topic, partition) -> bool: which existing partitions ``load`` opens
        self.partition_filter = partition_filter
        self._logs: dict[tuple[str, int], PartitionLog] = {}
        self._flush_observer = None
        for d in self.log_dirs:
            os.makedirs(d, exist_ok=True)

    def load(self, configs: dict[str, LogConfig] | None = None) -> int:
        """Open (and recover) every partition directory found; returns how many."""
        configs = configs or {}
        n = 0
        for d in self.log_dirs:
            for name in sorted(os.listdir(d)):
                tp = parse_topic_partition(name)
                path = os.path.join(d, name)
                if tp is None or not os.path.isdir(path) or tp in self._logs:
                    continue
                if self.partition_filter is not None and not self.partition_filter(*tp):
                    continue
                self._logs[tp] = PartitionLog(path, configs.get(tp[0], self.default_config), tp)
                self._logs[tp].flush_observer = self._flush_observer
                n += 1
        return n

    @property
    def flush_observer(self):
        """``observer(microseconds)`` after each flush that fsynced something (every log of this
        manager, those opened later too): the metrics' log flush time."""
        return self._flush_observer

    @flush_observer.setter
    def flush_observer(self, observer) -> None:
        self._flush_observer = observer
        for plog in self._logs.values():
            plog.flush_observer = observer

    def get(self, topic: str, partition: int) -> PartitionLog | None:
        return self._logs.get((topic, partition))

    def get_or_create(self, topic: str, partition: int, config: LogConfig | None = None) -> PartitionLog:
        tp = (topic, partition)
        plog = self._logs.get(tp)
        if plog is None:
            if not topic or "/" in topic or topic in (".", ".."):
                raise ValueError(f"invalid topic name {topic!r}")
            name = f"{topic}-{partition}"
            existing = [os.path.join(d, name) for d in self.log_dirs if os.path.isdir(os.path.join(d, name))]
            path = existing[0] if existing else os.path.join(self._least_loaded_dir(), name)
            plog = self._logs[tp] = PartitionLog(path, config or self.default_config, tp)
            plog.flush_observer = self._flush_observer
        return plog

    def _least_loaded_dir(self) -> str:
        counts = {d: 0 for d in self.log_dirs}
        for plog in self._logs.values():
            parent = os.path.dirname(plog.directory)
            if parent in counts:
                counts[parent] += 1
        return min(self.log_dirs, key=lambda d: counts[d])

    def delete(self, topic: str, partition: int) -> bool:
        plog = self._logs.pop((topic, partition), None)
        if plog is None:
            for d in self.log_dirs:
                path = os.path.join(d, f"{topic}-{partition}")
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                    return True
            return False
        plog.delete()
        return True

    def close_log(self, topic: str, partition: int) -> bool:
        """Stop holding one partition (its files stay); True if it was open."""
        plog = self._logs.pop((topic, partition), None)
        if plog is None:
            return False
        plog.close()
        return True

    def logs(self) -> Iterator[tuple[tuple[str, int], PartitionLog]]:
        return iter(list(self._logs.items()))

    def __iter__(self):
        return iter(list(self._logs.values()))

    def __len__(self) -> int:
        return len(self._logs)

    def run_maintenance(self, now_ms_: int | None = None) -> dict[str, int]:
        """Retention then flush policy for every log; errors are logged per partition."""
        now = now_ms() if now_ms_ is None else now_ms_
        deleted = flushed = 0
        for tp, plog in self.logs():
            try:
                deleted += plog.delete_old_segments(now)
                flushed += plog.maybe_flush(now)
            except OSError:
                log.exception("maintenance of %s-%d failed", *tp)
        return {"segments_deleted": deleted, "logs_flushed": flushed}

    def close(self) -> None:
        for tp, plog in self.logs():
            try:
                plog.close()
            except OSError:
                log.exception("closing %s-%d failed", *tp)
        self._logs.clear()
