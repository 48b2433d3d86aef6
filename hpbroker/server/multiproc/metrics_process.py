"""The metrics process of the multi-process topology: the endpoint of ``metrics.port``.

It serves /metrics (and the console's pages) from the statistics regions every processor and
handler counts into (server/multiproc/topology.py, ``stats``), adding them up at each scrape
(hpbroker/metrics/collector.py): no request, ring or event loop of the broker is involved, so a
scrape never holds up a request, and a slow console page never holds up a scrape (the HTTP
server answers each request in a thread of its own). Which topics exist comes from the registry
snapshot the controller publishes, read again when the metadata generation moves.

The supervisor starts it once the processors are ready and restarts it if it dies; it holds no
state of its own.

Who may touch: its main thread waits for SIGTERM; the HTTP server's threads only read shared
memory (and the registry snapshot, whose reader copes with a concurrent writer).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from hpbroker.metrics import snapshot
from hpbroker.metrics.endpoint import start_endpoint
from hpbroker.server.broker import local_address
from hpbroker.server.multiproc.wakeups import tell_ready

log = logging.getLogger(__name__)


class MetricsProcess:
    def __init__(self, topology, config, node, host: str, port: int):
        self.topo = topology
        self.config = config
        self.node = node
        self.host = host
        self.port = port  # the broker's listener: where the console's own client connects
        self._registry_path = os.path.join([d for d in config.get("log.dirs").split(",") if d][0], "__topics.json")
        self._lock = threading.Lock()
        self._generation = -1
        self._topics = None

    def topics(self):
        """The topic registry the controller last published (re-read when the generation moved)."""
        with self._lock:
            gen = self.topo.metadata_generation
            if gen != self._generation or self._topics is None:
                self._topics = self.topo.read_registry(self._registry_path)
                self._generation = gen
            return self._topics

    def run(self, ready_fd: int | None = None) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # SIGINT stays ignored: the supervisor decides
        published = [snapshot.SharedPublished(self.topo.stats_snapshot(h)) for h in range(self.topo.handlers)]
        server = start_endpoint(
            self.config,
            self.host,
            self.config.get("metrics.port"),
            self.topo.stats_regions(),
            self.topics,
            lambda: [rows for p in published for rows in p.read()],
            f"{local_address(self.host)}:{self.port}",
        )
        tell_ready(ready_fd)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            server.stop()
            log.info("metrics endpoint stopped")
