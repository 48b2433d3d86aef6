"""The brokers of handler processes when the node is a broker of a cluster (``zookeeper.connect``).

Handler 0 (``ControllerHandlerBroker``) is this broker's member of the cluster: it holds the
ZooKeeper session (cluster/member.py: the registration, the controller it may become), and the
controller's requests reach it (their ROUTE is CONTROLLER). It applies them to the partitions it
owns and to the metadata, then publishes the metadata (a ClusterRegistry: topics, every
partition's leader, leader epoch, replicas and ISR, the live brokers, the controller) in the
shared snapshot; the other handlers and the processors follow that snapshot. Its process is the
broker's life in the cluster: if it dies, the registration goes with its session (the cluster
counts the broker dead) until the restarted handler 0 registers again; if the supervisor dies,
handler 0 is told to stop (PR_SET_PDEATHSIG) and closes the session at once.

Handler 0 follows the cluster's ACLs and SCRAM credentials in ZooKeeper (security/zk_stores.py)
and copies them into the files under the log directory that the other handlers and the processors
read (``copy_security``), before it publishes a change to them.

Every other handler (``ShardHandlerBroker``) takes no controller request: in ``sync_topics`` it
follows the published registry (ClusterReplicaManager.follow_registry): it holds the partitions it
owns that name this broker among their replicas, in the leader epoch the registry gives, and
stops holding those the registry no longer gives it (their files are deleted by handler 0 when
the controller's StopReplica asks, once every handler let go of them).

Who may touch: the event loop of the handler process.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hpbroker.broker.cluster import ClusterBroker
from hpbroker.broker.metadata_cache import ClusterMetadataCache
from hpbroker.controller.local import NotController
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC, GroupCoordinator
from hpbroker.metrics.stats import ProcessStats
from hpbroker.replication.cluster_replica_manager import ClusterReplicaManager
from hpbroker.replication.partition import Partition
from hpbroker.security import authorizer
from hpbroker.security.authorizer import FileAclStore
from hpbroker.security.credentials import FileCredentialStore
from hpbroker.server.multiproc.handler_broker import PublishingReplicaManager
from hpbroker.transaction.coordinator import TransactionCoordinator
from hpbroker.transaction.markers import MarkerChannel

log = logging.getLogger(__name__)


class PublishingClusterReplicaManager(PublishingReplicaManager, ClusterReplicaManager):
    """A handler's partitions in a cluster: as the controller (or the registry) says, each with a
    row of the shared partition table."""


class ControllerHandlerBroker(ClusterBroker):
    def __init__(self, config, node, member, *, handler: int, table, owns, stats=None):
        self.handler = handler
        self.table = table
        self._copies: tuple[FileCredentialStore, FileAclStore] | None = None
        super().__init__(config, node, member, owns=owns, stats=stats)
        self.copy_security()  # before the processors serve a login
        # replica fetchers and ISR writes run in the in-process topology only, so far
        self.controller.max_replication_factor = 1

    def _replica_manager(self, owns) -> ClusterReplicaManager:
        return PublishingClusterReplicaManager(
            self.config,
            self.log_dirs,
            self.metadata,
            owns,
            handler=self.handler,
            table=self.table,
            broker_id=self.node.node_id,
            on_leadership=self._on_leadership,
            stats=self.stats,
        )

    def describe(self) -> str:
        return f"handler {self.handler}"

    def copy_security(self) -> None:
        """Copy the ACLs and credentials this handler follows in ZooKeeper into the files under
        the log directory that the other handlers and the processors read (security/stores.py),
        before a change is published to them."""
        log_dir = self.log_dirs[0]
        if self._copies is None:
            self._copies = (FileCredentialStore(log_dir), FileAclStore(log_dir))
        credentials, acls = self._copies
        credentials.replace(self.credentials.users())
        if self.authorizer is not None:
            bindings = self.authorizer.store.bindings()
            if set(bindings) != set(acls.bindings()):
                acls.replace(bindings)


class ShardHandlerBroker:
    """A handler process other than handler 0, in a cluster (a ``Broker``)."""

    def __init__(self, config, node, *, handler: int, table, owns, read_registry, stats=None):
        self.config = config
        self.node = node
        self.handler = handler
        self.stats = stats if stats is not None else ProcessStats()
        self.log_dirs = [d for d in config.get("log.dirs").split(",") if d]
        for d in self.log_dirs:
            Path(d).mkdir(parents=True, exist_ok=True)
        self.credentials = FileCredentialStore(self.log_dirs[0])
        self.authorizer = authorizer.from_config(config, self.log_dirs[0])
        self._read_registry = read_registry
        self._path = Path(self.log_dirs[0]) / "__topics.json"
        registry = read_registry(self._path)
        self.cluster_id = registry.cluster_id
        self.metadata = ClusterMetadataCache(node, registry)
        config.follow(registry.broker_configs, registry.broker_default_configs)
        self.replica_manager = PublishingClusterReplicaManager(
            config,
            self.log_dirs,
            self.metadata,
            owns,
            handler=handler,
            table=table,
            broker_id=node.node_id,
            on_leadership=self._on_leadership,
            stats=self.stats,
        )
        self.replica_manager.logs.flush_observer = self.stats.log_flushed
        self.controller = NotController(self.describe())
        self.group_coordinator = GroupCoordinator(
            config, self.metadata, self.replica_manager, self.controller, owns=self._leads
        )
        # __transaction_state is handler 0's (routing.owner): this one coordinates no transaction
        self.txn_coordinator = TransactionCoordinator(
            config, self.metadata, self.replica_manager, self.controller, MarkerChannel(self), owns=self._leads
        )
        self.cluster = None  # the controller's requests go to handler 0
        self.replica_manager.follow_registry(registry)

    def describe(self) -> str:
        return f"handler {self.handler}"

    def _leads(self, topic: str, index: int) -> bool:
        return self.replica_manager.partition(topic, index) is not None

    def _on_leadership(self, leaders: list[Partition], followers: list[Partition]) -> None:
        elected = [p.index for p in leaders if p.topic == GROUP_METADATA_TOPIC]
        resigned = [p.index for p in followers if p.topic == GROUP_METADATA_TOPIC]
        if elected:
            self.group_coordinator.elected(elected)
        if resigned:
            self.group_coordinator.resigned(resigned)

    def sync_topics(self) -> None:
        """Follow the registry handler 0 published."""
        registry = self._read_registry(self._path)
        self.cluster_id = registry.cluster_id
        self.metadata.update(registry)
        self.config.follow(registry.broker_configs, registry.broker_default_configs)
        self.replica_manager.follow_registry(registry)
        self.expire_security()  # the change may have been to ACLs or credentials

    def expire_security(self) -> None:
        """Handler 0 published a change: re-read ACLs and credentials at their next use."""
        self.credentials.expire()
        if self.authorizer is not None:
            self.authorizer.expire()

    def run_maintenance(self) -> None:
        self.group_coordinator.run_maintenance()
        self.replica_manager.run_maintenance()

    def close(self) -> None:
        self.replica_manager.close()
