"""LocalController: this process is the node's controller (single node: the in-process broker,
or handler 0 of the multi-process topology).

Each change is made here, at once, in the order: the partitions' files (through the replica
manager), then the topic registry (hpbroker/metadata/topics.py, rewritten and fsynced: the
commit point). A change whose files or registry cannot be written (a full disk) leaves nothing
behind and raises ``ControllerError(KAFKA_STORAGE_ERROR)``; a topic whose partitions the
open-file limit has no room for is refused with INVALID_PARTITIONS (storage/fd_limits.py).

``changed`` is set by every registry change: a handler process that is the controller then
publishes the registry to the other processes before it answers (server/multiproc/
handler_process.py); the in-process broker has nobody to tell.

Who may touch: the event loop of the controller's process.
"""

from __future__ import annotations

import logging
import time

from hpbroker.broker.interface import ControllerError
from hpbroker.broker.metadata_cache import MetadataCache
from hpbroker.protocol.errors import ErrorCode
from hpbroker.replication.replica_manager import LocalReplicaManager
from hpbroker.storage.fd_limits import no_room_message, partition_room
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)


class LocalController:
    def __init__(self, config, metadata: MetadataCache, replica_manager: LocalReplicaManager):
        self.config = config
        self.metadata = metadata
        self.replica_manager = replica_manager
        self.changed = False
        self._next_producer_id = int(time.time() * 1000) << 8  # unique across restarts of one node

    is_active = True  # a single node's controller takes every change

    async def create_topic(
        self,
        name: str,
        num_partitions: int,
        configs: dict[str, str],
        replication_factor: int = -1,
        assignment: dict[int, list[int]] | None = None,
        wait: bool = True,
    ) -> None:
        """This node holds every replica: the factor and assignment were checked by the caller
        (CreateTopics refuses a factor above 1, an assignment naming another broker)."""
        registry = self.metadata.topics
        if name in registry:
            raise ControllerError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
        self._check_room(num_partitions)
        info = registry.new_topic(name, num_partitions, configs)
        try:
            self.replica_manager.open_or_undo(info, range(num_partitions), lambda: registry.add(info))
        except OSError as exc:
            warn_storage_failure(log, ("create", name), "cannot create topic %r: %s", name, exc)
            raise ControllerError(
                ErrorCode.KAFKA_STORAGE_ERROR, f"Cannot create topic {name}: {exc.strerror or exc}"
            ) from None
        self.changed = True

    async def delete_topic(self, name: str) -> None:
        registry = self.metadata.topics
        if name not in registry:
            raise ControllerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"Topic {name} does not exist")
        info = registry.delete(name)
        self.changed = True
        rm = self.replica_manager
        rm.forget_topic(name)
        for i in range(info.num_partitions):
            if rm.owns(name, i):  # another process's partitions: it deletes them when it sees the registry
                rm.remove_partition(name, i)

    async def add_partitions(self, name: str, count: int, assignment: list[list[int]] | None = None) -> None:
        registry = self.metadata.topics
        info = registry.get(name)
        if info is None:
            raise ControllerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"The topic '{name}' does not exist.")
        old = info.num_partitions
        self._check_room(count - old)
        try:
            # opened before the new count is registered (as a new topic's); open_partitions reads
            # only the topic's name and configs
            self.replica_manager.open_or_undo(info, range(old, count), lambda: registry.set_partitions(name, count))
        except OSError as exc:
            warn_storage_failure(log, ("create", name), "cannot add partitions to %r: %s", name, exc)
            raise ControllerError(
                ErrorCode.KAFKA_STORAGE_ERROR, f"Cannot add partitions: {exc.strerror or exc}"
            ) from None
        self.changed = True

    async def set_topic_configs(self, name: str, configs: dict[str, str]) -> None:
        registry = self.metadata.topics
        if name not in registry:
            raise ControllerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"Topic {name} does not exist")
        registry.set_configs(name, configs)
        self.changed = True
        self.replica_manager.apply_topic_configs(registry.get(name))

    async def set_broker_configs(self, configs: dict[str, str], cluster_default: bool = False) -> None:
        """Persist this broker's dynamic configs, or (``cluster_default``) the cluster-wide ones
        (they survive a restart, as Kafka's do), and push changed log settings to every
        partition already open."""
        registry = self.metadata.topics
        registry.set_broker_configs(configs, cluster_default)
        self.changed = True
        self.config.follow(registry.broker_configs, registry.broker_default_configs)
        for info in registry:
            self.replica_manager.apply_topic_configs(info)

    async def security_changed(self) -> None:
        self.changed = True  # a handler process publishes, and waits for every handler, before answering

    async def next_producer_id(self) -> int:
        self._next_producer_id += 1
        return self._next_producer_id

    @staticmethod
    def _check_room(partitions: int) -> None:
        room = partition_room()
        if partitions > room:
            raise ControllerError(ErrorCode.INVALID_PARTITIONS, no_room_message(partitions, room))


class NotController:
    """A process that is not the node's controller and has no channel to it (a handler other than
    handler 0: the processors send controller requests to handler 0 themselves). Every change
    is refused with NOT_CONTROLLER, as a Kafka broker refuses a controller request meant for
    another broker; the group coordinator of such a process then waits for the controller to
    create __consumer_offsets (NOT_COORDINATOR meanwhile)."""

    is_active = False

    def __init__(self, where: str):
        self.where = where

    def _refuse(self):
        return ControllerError(ErrorCode.NOT_CONTROLLER, f"{self.where} is not this node's controller")

    async def create_topic(
        self,
        name: str,
        num_partitions: int,
        configs: dict[str, str],
        replication_factor: int = -1,
        assignment: dict[int, list[int]] | None = None,
        wait: bool = True,
    ) -> None:
        raise self._refuse()

    async def delete_topic(self, name: str) -> None:
        raise self._refuse()

    async def add_partitions(self, name: str, count: int, assignment: list[list[int]] | None = None) -> None:
        raise self._refuse()

    async def set_topic_configs(self, name: str, configs: dict[str, str]) -> None:
        raise self._refuse()

    async def set_broker_configs(self, configs: dict[str, str], cluster_default: bool = False) -> None:
        raise self._refuse()

    async def security_changed(self) -> None:
        pass  # the ACL and credential requests go to the controller only

    async def next_producer_id(self) -> int:
        raise self._refuse()
