"""ClusterBroker: the broker of a process that holds partitions, in a cluster (a ``Broker``,
interface.py; ``LocalBroker`` is the single node's).

Its parts, over the same log directories:

- ``metadata``: a ClusterMetadataCache over a ClusterRegistry (hpbroker/metadata/
  cluster_registry.py) that the controller's UpdateMetadata and LeaderAndIsr fill, with topic
  overrides and dynamic broker configs read from ZooKeeper (cluster/config_sync.py);
- ``replica_manager``: a ClusterReplicaManager: the partitions LeaderAndIsr names, led or
  followed; requests on others are NOT_LEADER_OR_FOLLOWER;
- ``credentials``, ``authorizer``: SCRAM credentials and ACLs in ZooKeeper, followed through
  their change notifications (security/zk_stores.py);
- ``controller``: ZkAdmin (cluster/admin.py): changes written to ZooKeeper, the elected
  controller (controller/kafka_controller.py) carries them out;
- ``group_coordinator``: the groups of the __consumer_offsets partitions this broker leads,
  loaded when it becomes their leader and dropped when it stops leading them;
- ``cluster`` (itself): the inter-broker requests (ClusterRole): LeaderAndIsr, UpdateMetadata,
  StopReplica, and ControlledShutdown when it is the controller.

The ZooKeeper session, registration and controller are the ClusterMember's
(cluster/member.py), made and connected before this broker.

Who may touch: the event loop of the process that owns these partitions.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from hpbroker.broker.control_requests import LeaderAndIsrState, StopReplicaState, UpdateMetadataRequest
from hpbroker.broker.interface import Node
from hpbroker.broker.metadata_cache import ClusterMetadataCache, PartitionState
from hpbroker.cluster.admin import ZkAdmin
from hpbroker.cluster.config_sync import ConfigSync
from hpbroker.cluster.zk_data import BrokerInfo, EndPoint, LeaderAndIsr, TopicPartition
from hpbroker.config import BrokerConfig
from hpbroker.controller import events as ev
from hpbroker.controller.kafka_controller import BrokerNotAvailable, StaleBrokerEpoch
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC, GroupCoordinator
from hpbroker.metadata.cluster_registry import LEADER_DURING_DELETE, NO_TOPIC_ID, ClusterRegistry
from hpbroker.metrics.stats import ProcessStats
from hpbroker.protocol.errors import ErrorCode
from hpbroker.replication.cluster_replica_manager import ClusterReplicaManager
from hpbroker.replication.partition import Partition
from hpbroker.security import authorizer
from hpbroker.security.zk_stores import ZkAclStore, ZkCredentialStore
from hpbroker.transaction.coordinator import TRANSACTION_STATE_TOPIC, TransactionCoordinator
from hpbroker.transaction.markers import MarkerChannel

log = logging.getLogger(__name__)


def registration(node: Node, protocols: dict[str, str] | None = None, jmx_port: int = -1) -> BrokerInfo:
    """What this broker writes at /brokers/ids/<id>: an endpoint per advertised listener, with its
    security protocol (``protocols``: listener name -> protocol), and its rack."""
    protocols = protocols or {}
    endpoints = node.endpoints or (("PLAINTEXT", node.host, node.port),)
    return BrokerInfo(
        node.node_id,
        tuple(EndPoint(name, host, port, protocols.get(name, name)) for name, host, port in endpoints),
        node.rack,
        jmx_port,
    )


class ClusterBroker:
    def __init__(self, config: BrokerConfig, node: Node, member, *, owns=None, stats: ProcessStats | None = None):
        self.config = config
        self.stats = stats if stats is not None else ProcessStats()
        self.node = node
        self.member = member  # cluster/member.py ClusterMember, connected
        self.cluster_id = member.cluster_id
        self.log_dirs = [d for d in config.get("log.dirs").split(",") if d]
        for d in self.log_dirs:
            Path(d).mkdir(parents=True, exist_ok=True)
        self.credentials, self.authorizer = self._security_stores()
        self.registry = ClusterRegistry()
        self.metadata = ClusterMetadataCache(node, self.registry)
        self.replica_manager = self._replica_manager(owns)
        self.replica_manager.logs.flush_observer = self.stats.log_flushed
        self.controller = ZkAdmin(
            config, node.node_id, member, self.metadata, self.apply_topic_configs, self.apply_broker_configs
        )
        self.controller.before_security_published = self.copy_security
        self.group_coordinator = GroupCoordinator(
            config, self.metadata, self.replica_manager, self.controller, owns=self._leads
        )
        self.txn_coordinator = TransactionCoordinator(
            config, self.metadata, self.replica_manager, self.controller, MarkerChannel(self), owns=self._leads
        )
        self.cluster = self
        #: the broker epoch the last UpdateMetadata applied was sent to: once it is this
        #: registration's, the controller has told this broker the whole cluster
        self.metadata_broker_epoch = -1
        self.config_sync = ConfigSync(member.zk, node.node_id, self.apply_topic_configs, self.apply_broker_configs)

    # -- ACLs and SCRAM credentials in ZooKeeper ---------------------------------------------------
    def _security_stores(self):
        """The cluster's SCRAM credentials and ACLs, from ZooKeeper (security/zk_stores.py): a
        change any broker (or ``hpbroker acls|users --zookeeper``) writes reaches this one through
        the change notifications it watches, on kazoo's thread, and ``_security_moved`` applies
        it on the loop."""
        loop = asyncio.get_running_loop()
        zk = self.member.client

        def moved() -> None:
            loop.call_soon_threadsafe(self._security_moved)

        credentials = ZkCredentialStore(zk, moved)
        acls = authorizer.from_config(self.config, self.log_dirs[0], lambda: ZkAclStore(zk, moved))
        return credentials, acls

    def _security_moved(self) -> None:
        if self.authorizer is not None:
            self.authorizer.expire()
        self.copy_security()
        self.metadata.changed()  # a multi-process broker's handler 0 publishes on this

    def copy_security(self) -> None:
        """Where this broker's other processes read ACLs and credentials from: nothing to copy
        in the in-process topology (multiproc/cluster_handlers.py copies them)."""

    def _replica_manager(self, owns) -> ClusterReplicaManager:
        rm = ClusterReplicaManager(
            self.config,
            self.log_dirs,
            self.metadata,
            owns,
            broker_id=self.node.node_id,
            on_leadership=self._on_leadership,
            stats=self.stats,
        )
        rm.isr_writer = self._write_isr
        rm.isr_notifier = self._notify_isr_changes
        return rm

    async def _write_isr(self, partition: Partition, isr: tuple[int, ...]) -> int | None:
        """The leader's ISR change in ZooKeeper: a conditional write at the partition epoch it
        holds (Kafka's Partition.updateIsr through zkClient.conditionalUpdatePath). The new
        partition epoch, or None if the state znode moved on."""
        zk = self.member.zk
        if zk is None:
            return None
        new = LeaderAndIsr(self.node.node_id, partition.leader_epoch, isr, partition.partition_epoch)
        ok, version = await zk(
            zk.client.update_leader_and_isr_as_leader,
            TopicPartition(partition.topic, partition.index),
            new,
            partition.controller_epoch,
        )
        return version if ok else None

    async def _notify_isr_changes(self, partitions: list[tuple[str, int]]) -> None:
        zk = self.member.zk
        if zk is not None:
            await zk(zk.client.propagate_isr_changes, [TopicPartition(t, i) for t, i in partitions])

    def describe(self) -> str:
        return f"broker {self.node.node_id}"

    @property
    def broker_epoch(self) -> int:
        return self.member.broker_epoch

    async def start(self) -> None:
        """Take this broker's dynamic configs and follow config changes (before registering)."""
        await self.config_sync.start()

    @property
    def has_cluster_metadata(self) -> bool:
        """The controller has sent this registration the whole cluster (its first UpdateMetadata
        to it: the live brokers and every partition with a leader)."""
        return self.member.broker_epoch >= 0 and self.metadata_broker_epoch == self.member.broker_epoch

    def _leads(self, topic: str, index: int) -> bool:
        return self.replica_manager.partition(topic, index) is not None

    # -- configs from ZooKeeper ----------------------------------------------------------------
    def apply_topic_configs(self, name: str, configs: dict[str, str]) -> None:
        info = self.registry.set_topic_configs(name, configs)
        if info is not None:
            self.replica_manager.apply_topic_configs(info)
            self.metadata.changed()

    def apply_broker_configs(self, per_broker: dict[str, str], cluster_default: dict[str, str]) -> None:
        self.registry.broker_configs = dict(per_broker)
        self.registry.broker_default_configs = dict(cluster_default)
        self.config.follow(self.registry.broker_configs, self.registry.broker_default_configs)
        for info in self.registry:
            self.replica_manager.apply_topic_configs(info)
        self.metadata.changed()

    async def _ensure_topics(self, names: set[str], topic_ids: dict[str, bytes]) -> None:
        """Make the registry hold these topics (reading new ones' overrides from ZooKeeper)."""
        registry = self.registry
        new = {
            n
            for n in names
            if n not in registry.topics
            or (topic_ids.get(n, NO_TOPIC_ID) not in (NO_TOPIC_ID, registry.topics[n].topic_id))
        }
        configs = await self.config_sync.topic_configs(new) if new else {}
        for name in names:
            registry.ensure_topic(name, topic_ids.get(name), configs.get(name, {}))

    # -- the controller's requests (ClusterRole) ----------------------------------------------------
    def _stale_broker_epoch(self, broker_epoch: int) -> bool:
        return broker_epoch != -1 and broker_epoch < self.member.broker_epoch

    async def leader_and_isr(
        self,
        controller_id: int,
        controller_epoch: int,
        broker_epoch: int,
        states: list[LeaderAndIsrState],
        topic_ids: dict[str, bytes],
    ) -> tuple[int, dict[tuple[str, int], int]]:
        if self._stale_broker_epoch(broker_epoch):
            log.warning("ignoring LeaderAndIsr for broker epoch %d (now %d)", broker_epoch, self.member.broker_epoch)
            return ErrorCode.STALE_BROKER_EPOCH, {}
        rm = self.replica_manager
        if controller_epoch < rm.controller_epoch:
            return ErrorCode.STALE_CONTROLLER_EPOCH, {}
        await self._ensure_topics({s.topic for s in states}, topic_ids)
        error, errors = rm.become_leader_or_follower(controller_id, controller_epoch, states, topic_ids)
        for s in states:
            if errors.get((s.topic, s.partition)) == ErrorCode.NONE:
                self.registry.offer_state(
                    s.topic,
                    s.partition,
                    PartitionState(s.leader, s.leader_epoch, s.replicas, s.isr, (), s.partition_epoch),
                )
        self.metadata.changed()
        return error, errors

    async def update_metadata(self, request: UpdateMetadataRequest) -> int:
        if self._stale_broker_epoch(request.broker_epoch):
            log.warning(
                "ignoring UpdateMetadata for broker epoch %d (now %d)", request.broker_epoch, self.member.broker_epoch
            )
            return ErrorCode.STALE_BROKER_EPOCH
        rm = self.replica_manager
        if request.controller_epoch < rm.controller_epoch:
            log.warning(
                "ignoring UpdateMetadata from controller %d: its epoch %d is older than %d",
                request.controller_id,
                request.controller_epoch,
                rm.controller_epoch,
            )
            return ErrorCode.STALE_CONTROLLER_EPOCH
        await self._ensure_topics(
            {s.topic for s in request.states if s.leader != LEADER_DURING_DELETE}, request.topic_ids
        )
        if not rm.accept_controller_epoch(request.controller_epoch):
            return ErrorCode.STALE_CONTROLLER_EPOCH
        registry = self.registry
        deleted = []
        for s in request.states:
            if s.leader == LEADER_DURING_DELETE:
                if registry.remove_partition(s.topic, s.partition):
                    deleted.append((s.topic, s.partition))
                continue
            registry.put_state(
                s.topic,
                s.partition,
                PartitionState(s.leader, s.leader_epoch, s.replicas, s.isr, s.offline_replicas, s.zk_version),
            )
        registry.set_brokers(request.live_brokers, request.controller_id, request.controller_epoch)
        registry.cluster_id = self.cluster_id
        self.metadata_broker_epoch = request.broker_epoch
        for key in deleted:
            rm.fetch_purgatory.notify(key)  # parked Fetches of a deleted topic answer now
        self.metadata.changed()
        return ErrorCode.NONE

    async def stop_replica(
        self, controller_id: int, controller_epoch: int, broker_epoch: int, states: list[StopReplicaState]
    ) -> tuple[int, dict[tuple[str, int], int]]:
        if self._stale_broker_epoch(broker_epoch):
            return ErrorCode.STALE_BROKER_EPOCH, {}
        return self.replica_manager.stop_replicas(controller_id, controller_epoch, states)

    async def controlled_shutdown(self, broker_id: int, broker_epoch: int) -> tuple[int, list[tuple[str, int]]]:
        controller = self.member.controller
        if controller is None or not controller.is_active:
            return ErrorCode.NOT_CONTROLLER, []
        try:
            remaining = await controller.controlled_shutdown(broker_id, broker_epoch)
        except ev.ControllerMovedAway:
            return ErrorCode.NOT_CONTROLLER, []
        except StaleBrokerEpoch as exc:
            log.info("%s", exc)
            return ErrorCode.STALE_BROKER_EPOCH, []
        except BrokerNotAvailable:
            return ErrorCode.BROKER_NOT_AVAILABLE, []
        return ErrorCode.NONE, [(tp.topic, tp.partition) for tp in remaining]

    # -- leadership and the group coordinator ----------------------------------------------------------
    def _on_leadership(self, leaders: list[Partition], followers: list[Partition]) -> None:
        """Load the groups of the __consumer_offsets partitions this broker now leads, drop those
        of the ones it stopped leading (Kafka's onLeadershipChange)."""
        coordinator = self.group_coordinator
        elected = [p.index for p in leaders if p.topic == GROUP_METADATA_TOPIC]
        resigned = [p.index for p in followers if p.topic == GROUP_METADATA_TOPIC]
        if elected:
            coordinator.elected(elected)
        if resigned:
            coordinator.resigned(resigned)
        txn_elected = [p.index for p in leaders if p.topic == TRANSACTION_STATE_TOPIC]
        txn_resigned = [p.index for p in followers if p.topic == TRANSACTION_STATE_TOPIC]
        if txn_elected:
            self.txn_coordinator.elected(txn_elected)
        if txn_resigned:
            self.txn_coordinator.resigned(txn_resigned)

    # -- upkeep ---------------------------------------------------------------------------------
    def run_maintenance(self) -> None:
        self.group_coordinator.run_maintenance()
        self.txn_coordinator.run_maintenance()
        self.replica_manager.run_maintenance()

    def close(self) -> None:
        self.txn_coordinator.close()
        self.txn_coordinator.markers.close()
        self.replica_manager.close()
