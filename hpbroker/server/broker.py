"""A single-process hpbroker: the listener, its connections and the partitions, in one event loop.

This is the in-process mode of DESIGN.md section 2 (``--processors 1 --handlers 0``): it runs
the same handler modules the multi-process topology runs, and is what the test fixture starts.
With ``metrics.port`` set, a thread serves the metrics endpoint and the console
(hpbroker/metrics/http.py) from this process's statistics region.

Who may touch: everything here runs on one asyncio event loop; ``BrokerServer.stop`` may be
called from another thread through ``request_stop``.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from hpbroker.broker.interface import Node
from hpbroker.broker.local import LocalBroker
from hpbroker.config import BrokerConfig
from hpbroker.metrics import gauges, snapshot
from hpbroker.metrics.layout import Gauge
from hpbroker.metrics.stats import ProcessStats
from hpbroker.server import scheduling
from hpbroker.server.connection import Acceptor, Connection, listening_socket, max_idle_s
from hpbroker.server.connection_quotas import ConnectionLimits, LocalCounts
from hpbroker.storage.fd_limits import raise_open_file_limit

log = logging.getLogger("hpbroker")

MAINTENANCE_INTERVAL_S = 1.0


def parse_listener(value: str) -> tuple[str, int]:
    """'PLAINTEXT://host:port' (first of a comma list) -> (host, port)."""
    first = value.split(",")[0].strip()
    if "://" in first:
        first = first.split("://", 1)[1]
    host, _, port = first.rpartition(":")
    return host or "0.0.0.0", int(port)


def local_address(host: str) -> str:
    """Where a client on this machine reaches a socket bound to ``host``."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def advertised_node(config: BrokerConfig, host: str, port: int) -> Node:
    """This node as clients should reach it (advertised.listeners, else the bound address)."""
    adv = config.raw("advertised.listeners")
    adv_host, adv_port = parse_listener(adv) if adv else (host, port)
    if adv_host in ("0.0.0.0", "::", ""):
        adv_host = socket.gethostname()
    node_id = config.get("node.id")
    if node_id < 0:  # unset, as Kafka's default -1
        node_id = config.get("broker.id")
    return Node(node_id, adv_host, adv_port or port)


class BrokerServer:
    def __init__(self, config: BrokerConfig):
        self.config = config
        self.host, self.port = parse_listener(config.get("listeners"))
        self.max_request_bytes = config.get("socket.request.max.bytes")
        self.max_idle_s = max_idle_s(config)
        self.broker: LocalBroker | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connections: set[Connection] = set()
        self._lsock: socket.socket | None = None
        self._stopped: asyncio.Event | None = None
        self._maintenance: asyncio.TimerHandle | None = None
        self.stats = ProcessStats()
        self.published = snapshot.Published()
        self.metrics_server = None
        self._idle = gauges.IdleClock()

    @property
    def bootstrap(self) -> str:
        return f"{self.broker.node.host}:{self.broker.node.port}"

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        raise_open_file_limit()  # as the command line does: also when embedded (tests, tools)
        self._limits = ConnectionLimits.from_config(self.config)  # a bad value fails the start
        lsock = listening_socket(self.host, self.port, self.config)
        self._lsock = lsock
        port = lsock.getsockname()[1]
        node = advertised_node(self.config, self.host, port)
        node_id = node.node_id
        self.broker = LocalBroker(self.config, node, stats=self.stats)
        self._acceptor = Acceptor(
            self.loop,
            lsock,
            self._accept,
            send_buffer=self.config.get("socket.send.buffer.bytes"),
            quotas=LocalCounts(self._limits, self.config),
        )
        self._acceptor.start()
        self._schedule_maintenance()
        metrics_port = self.config.get("metrics.port")
        if metrics_port:
            from hpbroker.metrics.endpoint import start_endpoint

            self.metrics_server = start_endpoint(
                self.config,
                self.host,
                metrics_port,
                [self.stats.words.obj],
                lambda: self.broker.metadata.topics,
                self.published.read,
                f"{local_address(self.host)}:{port}",
            )
        from hpbroker.server.eventloop import running_loop_name

        log.info(
            "hpbroker listening on %s:%d (node %d, log.dirs %s, %s loop, %s scheduling)",
            self.host,
            port,
            node_id,
            self.config.get("log.dirs"),
            running_loop_name(),
            scheduling.in_force(),
        )

    def _schedule_maintenance(self) -> None:
        self._maintenance = self.loop.call_later(MAINTENANCE_INTERVAL_S, self._run_maintenance)

    def _run_maintenance(self) -> None:
        try:
            self.broker.run_maintenance()
        except Exception:
            log.exception("log maintenance failed")
        if self.metrics_server is not None:
            try:
                gauges.update_broker(self.broker, self.stats, controller=True)
                gauges.update_idle(self.stats, self._idle, Gauge.NETWORK_IDLE_PPM, Gauge.HANDLER_IDLE_PPM)
                rm = self.broker.replica_manager
                self.published.publish(snapshot.build(self.broker, rm.high_watermark_of))
            except Exception:
                log.exception("metrics update failed")
        now = self.loop.time()
        for conn in list(self.connections):
            conn.trim(now)
        self._schedule_maintenance()

    def _accept(self, sock, peer) -> None:
        conn = Connection(self, sock, peer)
        self.connections.add(conn)
        self.stats.connection_opened()
        conn.start()

    def forget(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.stats.connection_closed()
            self._acceptor.connection_closed(conn.peer)

    async def serve_until_stopped(self) -> None:
        await self._stopped.wait()

    def request_stop(self) -> None:
        """Ask the loop to stop (safe from signal handlers and other threads)."""
        self.loop.call_soon_threadsafe(self._stopped.set)

    async def stop(self) -> None:
        if self._lsock is not None:
            self._acceptor.stop()
            self._lsock.close()
            self._lsock = None
        if self._maintenance is not None:
            self._maintenance.cancel()
        if self.metrics_server is not None:
            self.metrics_server.stop()
            self.metrics_server = None
        for conn in list(self.connections):
            conn.close()
        await asyncio.sleep(0)
        if self.broker is not None:
            self.broker.close()
        log.info("hpbroker stopped cleanly")
