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
from hpbroker.server import scheduling
from hpbroker.server.connection import Acceptor, Connection, listening_socket, max_idle_s
from hpbroker.server.connection_quotas import ConnectionLimits, LocalCounts
from hpbroker.storage.fd_limits import raise_open_file_limit

if TYPE_CHECKING:
    from hpbroker.broker.cluster import ClusterBroker
    from hpbroker.cluster.member import ClusterMember

log = logging.getLogger("hpbroker")

MAINTENANCE_INTERVAL_S = 1.0
FIRST_METADATA_WAIT_S = 30.0


def parse_listener(value: str) -> tuple[str, int]:
    """'PLAINTEXT://host:port' (first of a comma list) -> (host, port)."""
    first = value.split(",")[0].strip()
    if "://" in first:
        first = first.split("://", 1)[1]
    host, _, port = first.rpartition(":")
    return host or "0.0.0.0", int(port)


def advertised_node(config: BrokerConfig, host: str, port: int) -> Node:
    """This node as clients should reach it (advertised.listeners, else the bound address)."""
    adv = config.raw("advertised.listeners")
    adv_host, adv_port = parse_listener(adv) if adv else (host, port)
    if adv_host in ("0.0.0.0", "::", ""):
        adv_host = socket.gethostname()
    node_id = config.get("node.id")
    if node_id < 0:  # unset, as Kafka's default -1
        node_id = config.get("broker.id")
    return Node(node_id, adv_host, adv_port or port, config.get("broker.rack"))


class StartupRefused(Exception):
    """The broker cannot start, for the reason given (a duplicate broker.id)."""


class BrokerServer:
    def __init__(self, config: BrokerConfig):
        self.config = config
        self.host, self.port = parse_listener(config.get("listeners"))
        self.max_request_bytes = config.get("socket.request.max.bytes")
        self.max_idle_s = max_idle_s(config)
        self.broker: LocalBroker | ClusterBroker | None = None
        self.member: ClusterMember | None = None  # in a cluster: the ZooKeeper session and registration
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connections: set[Connection] = set()
        self._lsock: socket.socket | None = None
        self._stopped: asyncio.Event | None = None
        self._maintenance: asyncio.TimerHandle | None = None

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
        if self.config.get("zookeeper.connect"):
            await self._join_cluster(node)
        else:
            self.broker = LocalBroker(self.config, node)
        self._acceptor = Acceptor(
            self.loop,
            lsock,
            self._accept,
            send_buffer=self.config.get("socket.send.buffer.bytes"),
            quotas=LocalCounts(self._limits, self.config),
        )
        self._acceptor.start()
        if self.member is not None:
            await self._register(node)
        self._schedule_maintenance()
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

    async def _join_cluster(self, node: Node) -> None:
        """A broker of a cluster: connect to ZooKeeper (trying until it answers), then the broker
        over what the controller will tell it."""
        from hpbroker.broker.cluster import ClusterBroker
        from hpbroker.cluster.member import ClusterMember

        self.member = ClusterMember(self.config, node.node_id)
        await self.member.connect()
        self.broker = ClusterBroker(self.config, node, self.member)
        await self.broker.start()

    async def _register(self, node: Node) -> None:
        """Register in ZooKeeper (now that the listener accepts the controller's requests) and
        take part in the controller election. A broker.id another live broker holds stops here."""
        from hpbroker.broker.cluster import registration
        from hpbroker.cluster.zk_client import BrokerIdInUseError

        try:
            await self.member.register(registration(node))
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
        now = self.loop.time()
        for conn in list(self.connections):
            conn.trim(now)
        self._schedule_maintenance()

    def _accept(self, sock, peer) -> None:
        conn = Connection(self, sock, peer)
        self.connections.add(conn)
        conn.start()

    def forget(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self._acceptor.connection_closed(conn.peer)

    async def serve_until_stopped(self) -> None:
        await self._stopped.wait()

    def request_stop(self) -> None:
        """Ask the loop to stop (safe from signal handlers and other threads)."""
        self.loop.call_soon_threadsafe(self._stopped.set)

    async def stop(self) -> None:
        if self.member is not None and self._lsock is not None and self.config.get("controlled.shutdown.enable"):
            # still serving: the controller's requests that move the leaderships reach us
            await self.member.controlled_shutdown()
        if self._lsock is not None:
            self._acceptor.stop()
            self._lsock.close()
            self._lsock = None
        if self._maintenance is not None:
            self._maintenance.cancel()
        for conn in list(self.connections):
            conn.close()
        await asyncio.sleep(0)
        if self.member is not None:
            await self.member.close()
        if self.broker is not None:
            self.broker.close()
        log.info("hpbroker stopped cleanly")
