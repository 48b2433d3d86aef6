"""ZkAdmin: a broker's ``Controller`` (broker/interface.py) in a cluster: changes are written to
ZooKeeper as Kafka 2.8's AdminZkClient writes them, and complete when this broker's metadata
shows them (Kafka's DelayedCreatePartitions and DelayedDeleteTopics).

    create_topic        /config/topics/<t> (the overrides), then /brokers/topics/<t> (the
                        assignment, with a new topic id); complete when every partition has a
                        live leader in the metadata cache
    delete_topic        /admin/delete_topics/<t>; complete when the metadata cache no longer has it
    add_partitions      /brokers/topics/<t> rewritten with the new partitions (a CAS on its
                        version); complete when the metadata shows them all with leaders
    set_topic_configs   /config/topics/<t> and a change notification; in force here at once, on
                        the other brokers when they read the notification (config_sync.py)
    set_broker_configs  /config/brokers/<id> (or <default>) and a change notification
    next_producer_id    from this broker's block of producer ids (/latest_producer_id_block)

The controller (controller/kafka_controller.py), watching those paths, does the rest: elects the
new partitions' leaders and tells every broker. Placement of new replicas is cluster/placement.py
over the live brokers the metadata cache knows.

A change not in force within ``WAIT_S`` is REQUEST_TIMED_OUT (it is written, and happens when
the controller gets to it); ZooKeeper not answering is REQUEST_TIMED_OUT too.

Who may touch: the event loop of the broker (handler 0 in the multi-process topology).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from hpbroker.broker.interface import ControllerError
from hpbroker.broker.metadata_cache import ClusterMetadataCache
from hpbroker.cluster.config_sync import BROKER_CONFIG_TYPE, DEFAULT_ENTITY
from hpbroker.cluster.placement import (
    BrokerMetadata,
    PlacementError,
    assign_replicas_to_brokers,
    new_partitions_assignment,
)
from hpbroker.cluster.zk_client import TopicExistsError
from hpbroker.cluster.zk_data import TOPIC_CONFIG_TYPE, ReplicaAssignment, ZkDataError
from hpbroker.cluster.zk_session import ZkUnavailableError
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.protocol.errors import ErrorCode
from hpbroker.transaction.coordinator import TRANSACTION_STATE_TOPIC

log = logging.getLogger(__name__)

WAIT_S = 30.0  # Kafka's default request timeout


class ZkAdmin:
    def __init__(
        self,
        config,
        broker_id: int,
        member,
        metadata: ClusterMetadataCache,
        apply_topic_configs: Callable[[str, dict[str, str]], None],
        apply_broker_configs: Callable[[dict[str, str], dict[str, str]], None],
    ):
        self.config = config
        self.broker_id = broker_id
        self.member = member  # cluster/member.py ClusterMember: its zk, controller and producer ids
        self.metadata = metadata
        self.apply_topic_configs = apply_topic_configs
        self.apply_broker_configs = apply_broker_configs
        self.changed = False  # nothing to publish: every process follows the metadata cache
        #: called before a change of ACLs or credentials is published (the broker's copy for
        #: its other processes)
        self.before_security_published: Callable[[], None] = lambda: None
        #: the largest replication factor this broker creates topics with (None: the live
        #: brokers'); 1 in the multi-process topology, whose handlers do not replicate yet
        self.max_replication_factor: int | None = None

    @property
    def is_active(self) -> bool:
        controller = self.member.controller
        return controller is not None and controller.is_active

    async def _zk(self, fn, *args, **kwargs):
        try:
            return await self.member.zk(fn, *args, **kwargs)
        except ZkUnavailableError as exc:
            raise ControllerError(ErrorCode.REQUEST_TIMED_OUT, f"ZooKeeper did not answer: {exc}") from None

    def _live(self) -> list[BrokerMetadata]:
        return [BrokerMetadata(n.node_id, n.rack) for n in self.metadata.alive_brokers()]

    def _led_everywhere(self, name: str, count: int) -> bool:
        info = self.metadata.topic(name)
        if info is None or info.num_partitions < count:
            return False
        alive = {n.node_id for n in self.metadata.alive_brokers()}
        return all(s.leader in alive for s in self.metadata.partition_states(info)[:count])

    async def _wait(self, condition, what: str) -> None:
        if not await self.metadata.wait_for(condition, WAIT_S):
            raise ControllerError(ErrorCode.REQUEST_TIMED_OUT, f"{what} did not complete within {WAIT_S:.0f} s")

    # -- topics -------------------------------------------------------------------------------
    def _replication_factor(self, name: str, asked: int) -> int:
        if asked != -1:
            return asked
        internal = {
            GROUP_METADATA_TOPIC: "offsets.topic.replication.factor",
            TRANSACTION_STATE_TOPIC: "transaction.state.log.replication.factor",
        }
        if name not in internal:
            return int(self.config.get("default.replication.factor"))
        rf = int(self.config.get(internal[name]))
        live = len(self._live())
        if self.max_replication_factor is not None:
            live = min(live, self.max_replication_factor)
        if rf > live:
            log.info(
                "creating %s with replication factor %d, not %s=%d: %d brokers are alive",
                name,
                max(live, 1),
                internal[name],
                rf,
                live,
            )
        return max(min(rf, live), 1)

    async def create_topic(
        self,
        name: str,
        num_partitions: int,
        configs: dict[str, str],
        replication_factor: int = -1,
        assignment: dict[int, list[int]] | None = None,
        wait: bool = True,
    ) -> None:
        if assignment is None:
            rf = self._replication_factor(name, replication_factor)
            try:
                assignment = assign_replicas_to_brokers(self._live(), num_partitions, rf)
            except PlacementError as exc:
                raise ControllerError(exc.code, exc.message) from None
        limit = self.max_replication_factor
        if limit is not None and any(len(replicas) > limit for replicas in assignment.values()):
            raise ControllerError(
                ErrorCode.INVALID_REPLICATION_FACTOR,
                f"a broker of the multi-process topology does not replicate partitions yet: a replication factor "
                f"above {limit} is refused (run the cluster's brokers with --handlers 0)",
            )
        client = self.member.client
        if await self._zk(client.path_exists, f"/brokers/topics/{name}"):
            raise ControllerError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
        log.info("creating topic %s with configuration %s and assignment %s", name, configs, assignment)
        await self._zk(client.set_or_create_entity_configs, TOPIC_CONFIG_TYPE, name, configs)
        try:
            await self._zk(client.create_topic_assignment, name, uuid.uuid4().bytes, assignment)
        except TopicExistsError:
            raise ControllerError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.") from None
        if wait:
            count = len(assignment)
            await self._wait(lambda: self._led_everywhere(name, count), f"creating topic {name}")

    async def delete_topic(self, name: str) -> None:
        client = self.member.client
        if not await self._zk(client.path_exists, f"/brokers/topics/{name}"):
            raise ControllerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"Topic `{name}` to delete does not exist")
        if not await self._zk(client.create_delete_topic_path, name):
            log.info("topic %s is already marked for deletion", name)
        await self._wait(lambda: self.metadata.topic(name) is None, f"deleting topic {name}")

    async def add_partitions(self, name: str, count: int, assignment: list[list[int]] | None = None) -> None:
        client = self.member.client
        try:
            found = await self._zk(client.get_topic_assignment, name)
        except ZkDataError as exc:
            raise ControllerError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, str(exc)) from None
        if found is None:
            raise ControllerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"The topic '{name}' does not exist.")
        current, version = found
        existing = {p: a.replicas for p, a in current.partitions.items()}
        if assignment is not None:
            added = {len(existing) + i: list(ids) for i, ids in enumerate(assignment)}
        else:
            try:
                added = new_partitions_assignment(name, existing, self._live(), count)
            except PlacementError as exc:
                raise ControllerError(exc.code, exc.message) from None
        combined = {p: ReplicaAssignment(tuple(r)) for p, r in existing.items()}
        combined.update({p: ReplicaAssignment(tuple(r)) for p, r in added.items()})
        log.info("adding partitions to %s: %s", name, added)
        try:
            await self._zk(client.set_topic_assignment, name, current.topic_id, combined, version)
        except ControllerError:
            raise
        except Exception as exc:  # BADVERSION: changed meanwhile
            raise ControllerError(
                ErrorCode.REASSIGNMENT_IN_PROGRESS, f"the assignment of {name} changed: {exc!r}"
            ) from None
        await self._wait(lambda: self._led_everywhere(name, count), f"adding partitions to {name}")

    # -- configs -------------------------------------------------------------------------------
    async def set_topic_configs(self, name: str, configs: dict[str, str]) -> None:
        client = self.member.client
        if not await self._zk(client.path_exists, f"/brokers/topics/{name}"):
            raise ControllerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"Topic {name} does not exist")
        await self._zk(client.set_or_create_entity_configs, TOPIC_CONFIG_TYPE, name, configs)
        await self._zk(client.create_config_change_notification, f"{TOPIC_CONFIG_TYPE}/{name}")
        self.apply_topic_configs(name, dict(configs))

    async def set_broker_configs(self, configs: dict[str, str], cluster_default: bool = False) -> None:
        client = self.member.client
        entity = DEFAULT_ENTITY if cluster_default else str(self.broker_id)
        await self._zk(client.set_or_create_entity_configs, BROKER_CONFIG_TYPE, entity, configs)
        await self._zk(client.create_config_change_notification, f"{BROKER_CONFIG_TYPE}/{entity}")
        registry = self.metadata.topics
        own = registry.broker_configs if cluster_default else dict(configs)
        default = dict(configs) if cluster_default else registry.broker_default_configs
        self.apply_broker_configs(own, default)

    # -- producer ids ------------------------------------------------------------------------------
    async def security_changed(self) -> None:
        # this broker wrote ACLs or credentials to ZooKeeper (the other brokers follow the change
        # notifications): its other processes re-read them when the metadata moves (a
        # multi-process broker's handler 0 copies them for them, then publishes on this)
        self.before_security_published()
        self.metadata.changed()

    async def next_producer_id(self) -> int:
        return await self._zk(self.member.producer_ids.generate_producer_id)
