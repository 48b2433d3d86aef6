"""The last minutes of throughput and lag, sampled over the Kafka protocol for the plots.

Theory of operation: a thread, started by the first page that plots, samples every SAMPLE_S
seconds: the sum of the partitions' log end offsets of every topic (ListOffsets at the leaders:
records per second between two samples) and the total lag of each consumer group (as ``hpbroker
groups describe`` computes it, for at most MAX_GROUPS groups). It keeps WINDOW_S seconds. Any
Kafka-protocol cluster can be sampled so; a failed sample is skipped (the plot shows the gap).

Who may touch: the sampler thread appends; page threads read ``series`` (a copy under the lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from hpbroker.admin.client import ToolError
from hpbroker.console import cluster

log = logging.getLogger(__name__)

SAMPLE_S = 5.0
WINDOW_S = 15 * 60.0
MAX_GROUPS = 50


class History:
    def __init__(self, bootstrap: str, sample_s: float = SAMPLE_S):
        self.bootstrap = bootstrap
        self.sample_s = sample_s
        self._samples: deque = deque(maxlen=int(WINDOW_S / sample_s) + 1)  # (time, {topic: end}, {group: lag})
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sampling (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="hpbroker-console-history", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._sample()
            except (ToolError, OSError) as exc:
                log.debug("console sample failed: %s", exc)
            self._stop.wait(max(self.sample_s - (time.monotonic() - started), 0.1))

    def _sample(self) -> None:
        view = cluster.cluster(self.bootstrap)
        tps = [(t, p) for t, n, internal in view.topics if not internal for p in range(n)]
        ends = cluster.list_offsets(self.bootstrap, tps, cluster.LATEST)
        per_topic: dict[str, int] = {}
        for (t, _), end in ends.items():
            per_topic[t] = per_topic.get(t, 0) + end
        group_ids = [g for g, _ in cluster.groups(self.bootstrap)][:MAX_GROUPS]
        lags = {g: sum(parts.values()) for g, parts in cluster.lags(self.bootstrap, group_ids).items()}
        with self._lock:
            self._samples.append((time.time(), per_topic, lags))

    def throughput(self, topic: str | None = None) -> dict[str, list[tuple[float, float]]]:
        """topic -> [(time, records/s)] between consecutive samples (``topic``: only it)."""
        with self._lock:
            samples = list(self._samples)
        out: dict[str, list[tuple[float, float]]] = {}
        for (t0, a, _), (t1, b, _) in zip(samples, samples[1:]):
            dt = t1 - t0
            for name, end in b.items():
                if (topic is None or name == topic) and name in a and dt > 0:
                    out.setdefault(name, []).append((t1, max(end - a[name], 0) / dt))
        return out

    def lag(self, group: str | None = None) -> dict[str, list[tuple[float, float]]]:
        """group -> [(time, total lag)]."""
        with self._lock:
            samples = list(self._samples)
        out: dict[str, list[tuple[float, float]]] = {}
        for t, _, lags in samples:
            for name, n in lags.items():
                if group is None or name == group:
                    out.setdefault(name, []).append((t, float(n)))
        return out

    def samples(self) -> int:
        with self._lock:
            return len(self._samples)
