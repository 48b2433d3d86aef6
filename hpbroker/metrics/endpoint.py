"""Starting the endpoint of ``metrics.port``: the collector over the regions and the published
rows, the registry, the HTTP server, and the console's pages beside /metrics.

Who may touch: the caller that starts it stops it (``MetricsHTTPServer.stop``).
"""

from __future__ import annotations

import logging

from hpbroker.metrics import snapshot
from hpbroker.metrics.collector import BrokerCollector
from hpbroker.metrics.http import MetricsHTTPServer, registry_of

log = logging.getLogger("hpbroker")


def start_endpoint(config, host: str, port: int, regions, topics, published, bootstrap: str) -> MetricsHTTPServer:
    """Serve /metrics on ``host:port`` from ``regions`` (buffers of the processes' statistics
    regions) and ``published()`` (the rows the coordinators and partition owners published:
    snapshot.py), for the topics ``topics()`` holds, and the console's pages, asked of the broker
    at ``bootstrap`` (its own listener). Raises OSError when the port cannot be bound, as a
    listener's would."""
    from hpbroker.console.app import Console

    log_dirs = [d for d in config.get("log.dirs").split(",") if d]

    def names():
        return {t.name for t in topics()}

    def extra():
        return snapshot.families(published(), log_dirs, names())

    collector = BrokerCollector(lambda: regions, topics=names, extra=extra)
    console = Console(bootstrap)
    server = MetricsHTTPServer(host, port, registry_of(collector), console.page, on_stop=console.close)
    server.start()
    log.info("metrics on http://%s:%d/metrics, console on http://%s:%d/", host, server.port, host, server.port)
    return server
