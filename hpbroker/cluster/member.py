"""ClusterMember: this broker's place in the cluster: its ZooKeeper session, its registration and
broker epoch, the cluster id, and the controller it may become (Kafka's KafkaServer start-up and
KafkaController's session handling).

Theory of operation
-------------------
``connect()`` opens a session to ``zookeeper.connect`` (creating its chroot), trying again every
few seconds, each failure logged naming zookeeper.connect, until ZooKeeper answers; then it reads
the cluster id (/cluster/id, made by the first broker). ``register(info)`` creates the ephemeral
/brokers/ids/<id>; its creation zxid is the broker epoch (KIP-380). A live registration of the
same id by another session that outlives a session timeout is ``BrokerIdInUseError``: the broker
refuses to start and says why (a shorter one is this broker's own from before a crash).
``start_controller()`` starts this broker's KafkaController (controller/kafka_controller.py),
which takes part in the election.

Session events come from kazoo's thread and are handled on the loop:

    SUSPENDED   nothing yet: the session (the registration, a controller role) may still stand
    LOST        the session expired: the registration is gone; the controller resigns at once
    CONNECTED   with a new session: register again (a new broker epoch), then elect again

While the session is gone the broker keeps serving what it holds; the controller's requests
that arrive for the new registration carry its new broker epoch.

Who may touch: the broker's event loop.
"""

from __future__ import annotations

import asyncio
import logging

from hpbroker.cluster.async_zk import AsyncZk
from hpbroker.cluster.broker_client import BrokerUnavailable, InterBrokerSecurity
from hpbroker.cluster.producer_ids import ProducerIdManager
from hpbroker.cluster.zk_client import BrokerIdInUseError, KafkaZkClient
from hpbroker.cluster.zk_data import BrokerInfo
from hpbroker.cluster.zk_session import SessionEvent, SessionState, ZkUnavailableError, on_loop
from hpbroker.controller import events as ev
from hpbroker.controller.channel import broker_address
from hpbroker.controller.kafka_controller import KafkaController

log = logging.getLogger(__name__)

CONNECT_RETRY_MAX_S = 10.0
REGISTER_RETRY_S = 1.0
REGISTER_GRACE_S = 2.0
CONTROLLED_SHUTDOWN, CONTROLLED_SHUTDOWN_VERSION = 7, 3


class ClusterMember:
    def __init__(self, config, broker_id: int, stats=None):
        self.config = config
        self.broker_id = broker_id
        self.stats = stats  # metrics/stats.py ProcessStats: the controller's elections count there
        #: how this broker reaches the others (controller requests, ControlledShutdown)
        self.inter_broker = InterBrokerSecurity.from_config(config)
        self.connect_string: str = config.get("zookeeper.connect")
        self.session_timeout_ms: int = config.get("zookeeper.session.timeout.ms")
        self.connection_timeout_ms: int = config.get("zookeeper.connection.timeout.ms") or self.session_timeout_ms
        self.client: KafkaZkClient | None = None
        self.zk: AsyncZk | None = None
        self.cluster_id = ""
        self.broker_epoch = -1
        self.controller: KafkaController | None = None
        self.producer_ids: ProducerIdManager | None = None
        self.info: BrokerInfo | None = None
        self._closing = False
        self._reregistering: asyncio.Task | None = None

    async def connect(self, stopping: asyncio.Event | None = None) -> bool:
        """Connect, trying again until ZooKeeper answers; False if ``stopping`` was set first."""
        loop = asyncio.get_running_loop()
        delay = 1.0
        while True:
            if stopping is not None and stopping.is_set():
                return False
            client = KafkaZkClient(
                self.connect_string,
                session_timeout_ms=self.session_timeout_ms,
                connection_timeout_ms=self.connection_timeout_ms,
            )
            try:
                await loop.run_in_executor(None, client.start)
                break
            except ZkUnavailableError as exc:
                await loop.run_in_executor(None, client.close)
                log.error(
                    "cannot reach ZooKeeper (zookeeper.connect=%s): %s; trying again in %.0f s",
                    self.connect_string,
                    exc,
                    delay,
                )
                if stopping is None:
                    await asyncio.sleep(delay)
                else:
                    try:
                        await asyncio.wait_for(stopping.wait(), delay)
                    except asyncio.TimeoutError:
                        pass
                delay = min(delay * 2, CONNECT_RETRY_MAX_S)
        self.client = client
        self.zk = AsyncZk(client)
        self.cluster_id = await self.zk(client.create_or_get_cluster_id)
        client.add_session_listener(on_loop(loop, self._on_session_event))
        self.controller = KafkaController(self.config, self.broker_id, self.zk, self.inter_broker, self.stats)
        self.producer_ids = ProducerIdManager(self.broker_id, client)
        log.info("joined ZooKeeper at %s: cluster id %s", self.connect_string, self.cluster_id)
        return True

    async def register(self, info: BrokerInfo) -> None:
        """Register this broker; BrokerIdInUseError if another live broker has its id. A
        registration held by another session may be this broker's own from before a crash, whose
        session ZooKeeper has not expired yet: it is waited for, up to the session timeout (and a
        little more), before the id counts as taken."""
        assert self.zk is not None and self.client is not None
        self.info = info
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.session_timeout_ms / 1000 + REGISTER_GRACE_S
        warned = False
        while True:
            try:
                self.broker_epoch = await self.zk(self.client.register_broker, info)
                return
            except BrokerIdInUseError as exc:
                if loop.time() >= deadline:
                    raise
                if not warned:
                    log.warning(
                        "%s; waiting up to %.0f s for that session to expire (a broker restarted right after it "
                        "stopped)",
                        exc,
                        deadline - loop.time(),
                    )
                    warned = True
                await asyncio.sleep(REGISTER_RETRY_S / 2)

    def start_controller(self) -> None:
        assert self.controller is not None
        self.controller.start()

    def _on_session_event(self, event: SessionEvent) -> None:
        if self._closing or self.controller is None:
            return
        if event.state is SessionState.LOST:
            log.warning("ZooKeeper session expired: broker %d is not registered until a new session", self.broker_id)
            self.controller.session_expired()
        elif event.state is SessionState.CONNECTED and event.new_session and self.info is not None:
            if self._reregistering is None or self._reregistering.done():
                self._reregistering = asyncio.get_running_loop().create_task(self._register_again())

    async def _register_again(self) -> None:
        """A new session: register again (a new broker epoch), then elect again."""
        assert self.zk is not None and self.client is not None and self.info is not None
        while not self._closing:
            try:
                self.broker_epoch = await self.zk(self.client.register_broker, self.info)
                break
            except (ZkUnavailableError, BrokerIdInUseError) as exc:
                log.error("cannot register broker %d again: %s; trying again", self.broker_id, exc)
                await asyncio.sleep(REGISTER_RETRY_S)
        log.info("broker %d registered again: broker epoch %d", self.broker_id, self.broker_epoch)
        if self.controller is not None:
            self.controller.put(ev.Reelect())

    async def controlled_shutdown(self) -> bool:
        """Ask the controller to move this broker's leaderships away before it stops (Kafka's
        KafkaServer.controlledShutdown): up to ``controlled.shutdown.max.retries`` attempts,
        ``controlled.shutdown.retry.backoff.ms`` apart, each sent to the controller ZooKeeper names
        then. True once the controller answered that this broker leads nothing it could move."""
        if self.zk is None or self.client is None or self.broker_epoch < 0:
            return False
        retries = int(self.config.get("controlled.shutdown.max.retries"))
        backoff = int(self.config.get("controlled.shutdown.retry.backoff.ms")) / 1000
        body = {"broker_id": self.broker_id, "broker_epoch": self.broker_epoch}
        for attempt in range(1, retries + 1):
            try:
                controller_id = await self.zk(self.client.get_controller_id)
                controller = None if controller_id is None else await self.zk(self.client.get_broker, controller_id)
            except Exception as exc:  # ZooKeeper gone, a malformed znode: try again
                log.warning("controlled shutdown: cannot find the controller: %s", exc)
                controller = None
            if controller is None:
                log.info("controlled shutdown: no controller registered in ZooKeeper (attempt %d)", attempt)
            else:
                host, port = broker_address(controller, self.inter_broker)
                client = self.inter_broker.client(host, port, f"broker-{self.broker_id}-shutdown")
                try:
                    answer = await client.request(CONTROLLED_SHUTDOWN, CONTROLLED_SHUTDOWN_VERSION, body)
                except BrokerUnavailable as exc:
                    log.warning("controlled shutdown: controller %d unreachable: %s", controller.broker_id, exc)
                    answer = None
                finally:
                    client.close()
                if answer is not None:
                    remaining = answer["remaining_partitions"]
                    if answer["error_code"] == 0 and not remaining:
                        log.info("controlled shutdown of broker %d succeeded", self.broker_id)
                        return True
                    log.info(
                        "controlled shutdown: error %d, %d partitions still led here (attempt %d of %d)",
                        answer["error_code"],
                        len(remaining),
                        attempt,
                        retries,
                    )
            if attempt < retries:
                await asyncio.sleep(backoff)
        log.warning(
            "controlled shutdown of broker %d failed after %d attempts: stopping anyway", self.broker_id, retries
        )
        return False

    async def close(self) -> None:
        """Stop the controller and close the session: the registration (and /controller, if
        held) vanishes at once."""
        self._closing = True
        if self._reregistering is not None:
            self._reregistering.cancel()
        if self.controller is not None:
            await self.controller.stop()
        if self.client is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.client.close)
        if self.zk is not None:
            self.zk.shutdown()
