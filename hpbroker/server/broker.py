"""A single-process hpbroker: the listener, its connections and the partitions, in one event loop.

This is the in-process mode of DESIGN.md section 2 (``--processors 1 --handlers 0``): it runs
the same handler modules the multi-process topology runs, and is what the test fixture starts.

Who may touch: everything here runs on one asyncio event loop; ``BrokerServer.stop`` may be
called from another thread through ``request_stop``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

from hpbroker.broker.interface import Node
from hpbroker.broker.local import LocalBroker
from hpbroker.config import BrokerConfig
from hpbroker.metrics import gauges, snapshot
from hpbroker.metrics.layout import Gauge
from hpbroker.metrics.stats import ProcessStats
from hpbroker.server import listener_security, listeners, scheduling
from hpbroker.server.connection import Acceptor, Connection, listening_socket, max_idle_s
from hpbroker.server.connection_quotas import ConnectionLimits, LocalCounts
from hpbroker.server.listeners import ListenerConfig, log_listeners
from hpbroker.server.tls_connection import TlsConnection
from hpbroker.storage.fd_limits import raise_open_file_limit

if TYPE_CHECKING:
    from hpbroker.broker.cluster import ClusterBroker
    from hpbroker.cluster.member import ClusterMember

log = logging.getLogger("hpbroker")

MAINTENANCE_INTERVAL_S = 1.0
FIRST_METADATA_WAIT_S = 30.0


def local_address(host: str) -> str:
    """Where a client on this machine reaches a socket bound to ``host``."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def node_id_of(config: BrokerConfig) -> int:
    node_id = config.get("node.id")
    if node_id < 0:  # unset, as Kafka's default -1
        node_id = config.get("broker.id")
    return node_id


def advertised_node(config: BrokerConfig, bound: ListenerConfig) -> Node:
    """This node as clients reach it: an endpoint per advertised listener (advertised.listeners,
    else each listener's bound address); its host and port are the first one's."""
    endpoints = bound.endpoints()
    _, host, port = endpoints[0]
    return Node(node_id_of(config), host, port, endpoints, config.get("broker.rack"))


def bind_listeners(config: BrokerConfig, reuse_port: bool = False) -> tuple[ListenerConfig, dict[str, socket.socket]]:
    """A listening socket per listener (closed again if one cannot be bound), and the listener
    configuration with the ports they were bound to."""
    listener_config = listeners.from_config(config)
    socks: dict[str, socket.socket] = {}
    try:
        for lst in listener_config.listeners:
            socks[lst.name] = listening_socket(lst.host, lst.port, config, reuse_port=reuse_port)
    except BaseException:
        for sock in socks.values():
            sock.close()
        raise
    return listener_config.bound({name: sock.getsockname()[1] for name, sock in socks.items()}), socks


class StartupRefused(Exception):
    """The broker cannot start, for the reason given (a duplicate broker.id)."""


class TlsLocalConnection(TlsConnection, Connection):
    """A connection on an SSL or SASL_SSL listener of the in-process server."""


class BrokerServer:
    def __init__(self, config: BrokerConfig):
        self.config = config
        self.listeners: ListenerConfig = listeners.from_config(config)  # bound at start
        self.max_request_bytes = config.get("socket.request.max.bytes")
        self.max_idle_s = max_idle_s(config)
        self.setup_timeout_s = config.get("socket.connection.setup.timeout.ms") / 1000.0
        self.failed_authentications = 0
        self.security: dict = {}  # listener name -> listener_security.ListenerSecurity
        self.broker: LocalBroker | ClusterBroker | None = None
        self.member: ClusterMember | None = None  # in a cluster: the ZooKeeper session and registration
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connections: set[Connection] = set()
        self._lsocks: dict[str, socket.socket] = {}
        self._acceptors: dict[str, Acceptor] = {}
        self._stopped: asyncio.Event | None = None
        self._maintenance: asyncio.TimerHandle | None = None
        self.stats = ProcessStats()
        self.published = snapshot.Published()
        self.metrics_server = None
        self._idle = gauges.IdleClock()

    @property
    def bootstrap(self) -> str:
        return f"{self.broker.node.host}:{self.broker.node.port}"

    def address(self, listener: str) -> tuple[str, int]:
        """(host, port) a client of ``listener`` connects to (its advertised endpoint)."""
        node = self.broker.node.on(listener)
        return node.host, node.port

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        raise_open_file_limit()  # as the command line does: also when embedded (tests, tools)
        self._limits = ConnectionLimits.from_config(self.config)  # a bad value fails the start
        self.listeners, self._lsocks = bind_listeners(self.config)
        node = advertised_node(self.config, self.listeners)
        try:
            if self.config.get("zookeeper.connect"):
                await self._join_cluster(node)
            else:
                self.broker = LocalBroker(self.config, node, stats=self.stats)
            self.security = listener_security.build(self.config, self.listeners, self.broker.credentials)
        except BaseException:
            if self.broker is not None:
                self.broker.close()
            if self.member is not None:
                await self.member.close()
            for lsock in self._lsocks.values():
                lsock.close()
            raise
        quotas = LocalCounts(self._limits, self.config)
        for lst in self.listeners.listeners:
            acceptor = Acceptor(
                self.loop,
                self._lsocks[lst.name],
                lambda sock, peer, lst=lst: self._accept(sock, peer, lst),
                send_buffer=self.config.get("socket.send.buffer.bytes"),
                quotas=quotas,
            )
            acceptor.start()
            self._acceptors[lst.name] = acceptor
        if self.member is not None:
            await self._register(node)
        self._schedule_maintenance()
        first = self.listeners.listeners[0]
        metrics_port = self.config.get("metrics.port")
        if metrics_port:
            from hpbroker.metrics.endpoint import start_endpoint

            console = self.listeners.console_listener()
            self.metrics_server = start_endpoint(
                self.config,
                console.host,
                metrics_port,
                [self.stats.words.obj],
                lambda: self.broker.metadata.topics,
                self.published.read,
                f"{local_address(console.host)}:{console.port}",
            )
        from hpbroker.server.eventloop import running_loop_name

        log_listeners(self.listeners)
        log.info(
            "hpbroker listening on %s:%d (node %d, log.dirs %s, %s loop, %s scheduling)",
            first.host,
            first.port,
            node.node_id,
            self.config.get("log.dirs"),
            running_loop_name(),
            scheduling.in_force(),
        )

    async def _join_cluster(self, node: Node) -> None:
        """A broker of a cluster: connect to ZooKeeper (trying until it answers), then the broker
        over what the controller will tell it."""
        from hpbroker.broker.cluster import ClusterBroker
        from hpbroker.cluster.member import ClusterMember

        self.member = ClusterMember(self.config, node.node_id, self.stats)
        await self.member.connect()
        self.broker = ClusterBroker(self.config, node, self.member, stats=self.stats)
        await self.broker.start()

    async def _register(self, node: Node) -> None:
        """Register in ZooKeeper (now that the listener accepts the controller's requests) and
        take part in the controller election. A broker.id another live broker holds stops here."""
        from hpbroker.broker.cluster import registration
        from hpbroker.cluster.zk_client import BrokerIdInUseError

        try:
            await self.member.register(registration(node, self.listeners.protocols()))
        except BrokerIdInUseError as exc:
            await self.stop()
            raise StartupRefused(f"{exc}: is another broker running with broker.id {node.node_id}?") from None
        self.member.start_controller()
        # ready once the controller has told this broker the cluster (its first UpdateMetadata):
        # until then Metadata would list no broker at all
        broker = self.broker
        if not await broker.metadata.wait_for(lambda: broker.has_cluster_metadata, FIRST_METADATA_WAIT_S):
            log.warning(
                "no UpdateMetadata from a controller within %.0f s of registering: serving without it",
                FIRST_METADATA_WAIT_S,
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

    def _accept(self, sock, peer, listener) -> None:
        conn = listener_security.accept(self, self.security[listener.name], sock, peer, Connection, TlsLocalConnection)
        self.connections.add(conn)
        self.stats.connection_opened(listener.name)
        conn.start()

    def forget(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.stats.connection_closed(conn.session.listener)
            acceptor = self._acceptors.get(conn.session.listener)
            if acceptor is not None:
                acceptor.connection_closed(conn.peer)

    async def serve_until_stopped(self) -> None:
        await self._stopped.wait()

    def request_stop(self) -> None:
        """Ask the loop to stop (safe from signal handlers and other threads)."""
        self.loop.call_soon_threadsafe(self._stopped.set)

    async def stop(self) -> None:
        if self.member is not None and self._lsocks and self.config.get("controlled.shutdown.enable"):
            # still serving: the controller's requests that move the leaderships reach us
            await self.member.controlled_shutdown()
        for name, lsock in self._lsocks.items():
            self._acceptors[name].stop()
            lsock.close()
        self._lsocks = {}
        if self._maintenance is not None:
            self._maintenance.cancel()
        if self.metrics_server is not None:
            self.metrics_server.stop()
            self.metrics_server = None
        for conn in list(self.connections):
            conn.close()
        await asyncio.sleep(0)
        if self.member is not None:
            await self.member.close()
        if self.broker is not None:
            self.broker.close()
        log.info("hpbroker stopped cleanly")
