"""LocalBroker: the broker of a process that holds partitions (a ``Broker``, interface.py).

It puts the parts together over the node's log directories: the topic registry they hold
(``<first log dir>/__topics.json``) behind a ``MetadataCache``; a ``LocalReplicaManager`` for
the partitions this process owns (``owns``: every one in the in-process server, those that hash
to it in a handler process); the controller, this process's own (``LocalController``) or, in a
process that is not the controller, ``NotController``; the group coordinator of the
__consumer_offsets partitions it owns and the transaction coordinator of the
__transaction_state partitions it owns.

The in-process server (hpbroker/server/broker.py) runs one; each handler process of the
multi-process topology runs a subclass that publishes its partitions to the processors
(server/multiproc/handler_broker.py).

Who may touch: the event loop of the process that owns these partitions.
"""

from __future__ import annotations

from pathlib import Path

from hpbroker.broker.interface import Node
from hpbroker.broker.metadata_cache import MetadataCache
from hpbroker.config import BrokerConfig
from hpbroker.controller.local import LocalController, NotController
from hpbroker.coordinator.coordinator import GroupCoordinator
from hpbroker.metadata.topics import TopicRegistry
from hpbroker.metrics.stats import ProcessStats
from hpbroker.replication.replica_manager import LocalReplicaManager
from hpbroker.security import authorizer
from hpbroker.security.credentials import FileCredentialStore
from hpbroker.transaction.coordinator import TransactionCoordinator
from hpbroker.transaction.markers import MarkerChannel

DEFAULT_CLUSTER_ID = "hpbroker-cluster"


class LocalBroker:
    def __init__(
        self,
        config: BrokerConfig,
        node: Node,
        cluster_id: str = DEFAULT_CLUSTER_ID,
        *,
        owns=None,
        controller: bool = True,
        stats: ProcessStats | None = None,
    ):
        self.config = config
        self.stats = stats if stats is not None else ProcessStats()
        self.node = node
        self.cluster_id = cluster_id
        self.log_dirs = [d for d in config.get("log.dirs").split(",") if d]
        for d in self.log_dirs:
            Path(d).mkdir(parents=True, exist_ok=True)
        self.credentials = FileCredentialStore(self.log_dirs[0])
        self.authorizer = authorizer.from_config(config, self.log_dirs[0])
        registry = TopicRegistry(Path(self.log_dirs[0]) / "__topics.json")
        config.follow(registry.broker_configs, registry.broker_default_configs)
        self.metadata = MetadataCache(node, registry)
        self.replica_manager = self._replica_manager(owns)
        self.replica_manager.logs.flush_observer = self.stats.log_flushed
        self.controller = (
            LocalController(config, self.metadata, self.replica_manager)
            if controller
            else NotController(self.describe())
        )
        self.group_coordinator = GroupCoordinator(
            config, self.metadata, self.replica_manager, self.controller, owns=owns
        )
        self.txn_coordinator = TransactionCoordinator(
            config, self.metadata, self.replica_manager, self.controller, MarkerChannel(self), owns=owns
        )
        self.cluster = None  # a single node

    def expire_security(self) -> None:
        """The controller published a change: re-read ACLs and credentials at their next use."""
        self.credentials.expire()
        if self.authorizer is not None:
            self.authorizer.expire()

    def _replica_manager(self, owns) -> LocalReplicaManager:
        return LocalReplicaManager(self.config, self.log_dirs, self.metadata, owns)

    def describe(self) -> str:
        """This process, as log lines and refusals name it."""
        return f"broker {self.node.node_id}"

    def run_maintenance(self) -> None:
        """The maintenance tick: offsets expiry and compaction, then the logs' retention, rolls,
        flushes and the log cleaner."""
        self.group_coordinator.run_maintenance()
        self.txn_coordinator.run_maintenance()
        self.replica_manager.run_maintenance()

    def close(self) -> None:
        self.txn_coordinator.close()
        self.txn_coordinator.markers.close()
        self.replica_manager.close()
