"""The HTTP server of ``metrics.port``: ``/metrics`` (Prometheus' text format, or OpenMetrics when
the scraper asks for it, written by prometheus-client) and, at every other path, the console's
pages (hpbroker/console/), when one is given.

It runs in threads of its own (the standard library's ThreadingHTTPServer: one per request), so
a slow console page never holds up a scrape; in the multi-process topology it runs in a process
of its own (server/multiproc/metrics_process.py), so neither holds up a request. In the
in-process topology it shares the process (and its interpreter lock) with the broker: a scrape
there takes the lock for the few milliseconds it costs.

Who may touch: ``start`` and ``stop`` from the thread that owns the server object.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: MetricsHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        url = urlsplit(self.path)
        try:
            if url.path == "/metrics" and self.server.registry is not None:
                encoder, content_type = choose_encoder(self.headers.get("Accept"))
                status, body = 200, encoder(self.server.registry)
            elif self.server.pages is not None:
                status, content_type, body = self.server.pages(url.path, parse_qs(url.query))
            else:
                status, content_type, body = 404, "text/plain; charset=utf-8", b"not found: /metrics is served here\n"
        except Exception:
            log.exception("cannot answer %s", self.path)
            status, content_type, body = 500, "text/plain; charset=utf-8", b"internal error\n"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)


class MetricsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, registry: CollectorRegistry | None, pages=None, on_stop=None):
        """``pages(path, query) -> (status, content type, body)`` answers every path but /metrics
        (every path without a ``registry``); ``on_stop()`` runs after the server stopped."""
        super().__init__((host, port), _Handler)
        self.registry = registry
        self.pages = pages
        self.on_stop = on_stop
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="hpbroker-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)
        if self.on_stop is not None:
            self.on_stop()


def registry_of(collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
