"""Starting the endpoint of ``metrics.port``: the collector over the regions, the registry, the
HTTP server, and the console's pages beside /metrics.

Who may touch: the caller that starts it stops it (``MetricsHTTPServer.stop``).
"""

from __future__ import annotations

import logging

from hpbroker.metrics.collector import BrokerCollector
from hpbroker.metrics.http import MetricsHTTPServer, registry_of

log = logging.getLogger("hpbroker")


def start_endpoint(config, host: str, port: int, regions, topics, extra=None, pages=None) -> MetricsHTTPServer:
    """Serve /metrics on ``host:port`` from ``regions`` (buffers of the processes' regions, or a
    callable returning them) for the topics ``topics()`` names. Raises OSError when the port
    cannot be bound, as a listener's would."""
    collector = BrokerCollector(
        regions if callable(regions) else (lambda: regions),
        topics=lambda: {t.name for t in topics()},
        extra=extra,
    )
    server = MetricsHTTPServer(host, port, registry_of(collector), pages)
    server.start()
    log.info("metrics on http://%s:%d/metrics", host, server.port)
    return server
