"""ControllerContext: what the active controller knows of the cluster (Kafka's ControllerContext).

Loaded from ZooKeeper when this broker becomes the controller, then kept current by the
controller's own writes and the changes it is told of (watches):

- the live brokers (registration and broker epoch) and those shutting down (a controlled
  shutdown asked; they stay live until their registration goes);
- every topic, its topic id and each partition's replica assignment (preference order);
- each partition's leadership (LeaderIsrAndControllerEpoch, with the state znode's zkVersion);
- each partition's and each replica's state (states.py);
- the topics queued for deletion, those whose deletion started, and those whose deletion waits
  (a replica on a dead broker).

A replica is *online* when its broker is live and not shutting down (``include_shutting_down``:
live, shutting down or not).

Who may touch: the controller's event loop, while it processes one event (controller/events.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hpbroker.cluster.zk_data import BrokerInfo, LeaderIsrAndControllerEpoch, ReplicaAssignment, TopicPartition
from hpbroker.controller.states import PartitionState, ReplicaState


@dataclass(frozen=True)
class PartitionAndReplica:
    tp: TopicPartition
    replica: int


@dataclass
class ControllerContext:
    epoch: int = 0
    epoch_zk_version: int = 0
    live_brokers: dict[int, BrokerInfo] = field(default_factory=dict)
    broker_epochs: dict[int, int] = field(default_factory=dict)
    shutting_down: set[int] = field(default_factory=set)
    all_topics: set[str] = field(default_factory=set)
    topic_ids: dict[str, bytes] = field(default_factory=dict)
    assignments: dict[str, dict[int, ReplicaAssignment]] = field(default_factory=dict)
    leadership: dict[TopicPartition, LeaderIsrAndControllerEpoch] = field(default_factory=dict)
    partition_states: dict[TopicPartition, PartitionState] = field(default_factory=dict)
    replica_states: dict[PartitionAndReplica, ReplicaState] = field(default_factory=dict)
    topics_to_be_deleted: set[str] = field(default_factory=set)
    topics_with_deletion_started: set[str] = field(default_factory=set)
    topics_ineligible_for_deletion: set[str] = field(default_factory=set)

    def reset(self) -> None:
        """Forget everything (the controller resigned)."""
        fresh = ControllerContext()
        self.__dict__.update(fresh.__dict__)

    # -- brokers ------------------------------------------------------------------------------
    def set_live_brokers(self, brokers: dict[int, tuple[BrokerInfo, int]]) -> None:
        self.live_brokers = {i: b for i, (b, _) in brokers.items()}
        self.broker_epochs = {i: e for i, (_, e) in brokers.items()}

    def add_live_brokers(self, brokers: dict[int, tuple[BrokerInfo, int]]) -> None:
        for i, (b, e) in brokers.items():
            self.live_brokers[i] = b
            self.broker_epochs[i] = e

    def remove_live_brokers(self, ids: Iterable[int]) -> None:
        for i in ids:
            self.live_brokers.pop(i, None)
            self.broker_epochs.pop(i, None)

    @property
    def live_or_shutting_down_ids(self) -> set[int]:
        return set(self.live_brokers)

    @property
    def live_broker_ids(self) -> set[int]:
        return set(self.live_brokers) - self.shutting_down

    def is_replica_online(self, replica: int, include_shutting_down: bool = False) -> bool:
        if include_shutting_down:
            return replica in self.live_brokers
        return replica in self.live_brokers and replica not in self.shutting_down

    # -- topics and assignments ----------------------------------------------------------------
    def set_assignment(self, tp: TopicPartition, assignment: ReplicaAssignment) -> None:
        self.assignments.setdefault(tp.topic, {})[tp.partition] = assignment

    def replicas(self, tp: TopicPartition) -> tuple[int, ...]:
        a = self.assignments.get(tp.topic, {}).get(tp.partition)
        return () if a is None else a.replicas

    def full_assignment(self, tp: TopicPartition) -> ReplicaAssignment:
        return self.assignments.get(tp.topic, {}).get(tp.partition) or ReplicaAssignment(())

    def partitions_for_topic(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in sorted(self.assignments.get(topic, {}))]

    @property
    def all_partitions(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, parts in self.assignments.items() for p in parts]

    def replicas_for_partitions(self, tps: Iterable[TopicPartition]) -> list[PartitionAndReplica]:
        return [PartitionAndReplica(tp, r) for tp in tps for r in self.replicas(tp)]

    def replicas_for_topic(self, topic: str) -> list[PartitionAndReplica]:
        return self.replicas_for_partitions(self.partitions_for_topic(topic))

    def replicas_on_brokers(self, ids: set[int]) -> list[PartitionAndReplica]:
        return [
            PartitionAndReplica(TopicPartition(t, p), r)
            for t, parts in self.assignments.items()
            for p, a in parts.items()
            for r in a.replicas
            if r in ids
        ]

    def partitions_on_broker(self, broker_id: int) -> list[TopicPartition]:
        return [
            TopicPartition(t, p)
            for t, parts in self.assignments.items()
            for p, a in parts.items()
            if broker_id in a.replicas
        ]

    def remove_topic(self, topic: str) -> None:
        for tp in self.partitions_for_topic(topic):
            self.leadership.pop(tp, None)
            self.partition_states.pop(tp, None)
            for r in self.replicas(tp):
                self.replica_states.pop(PartitionAndReplica(tp, r), None)
        self.assignments.pop(topic, None)
        self.all_topics.discard(topic)
        self.topic_ids.pop(topic, None)
        self.topics_to_be_deleted.discard(topic)
        self.topics_with_deletion_started.discard(topic)
        self.topics_ineligible_for_deletion.discard(topic)

    # -- leadership ------------------------------------------------------------------------------
    def partitions_with_offline_leader(self) -> list[TopicPartition]:
        return [
            tp
            for tp, lice in self.leadership.items()
            if not self.is_replica_online(lice.leader_and_isr.leader) and not self.is_queued_for_deletion(tp.topic)
        ]

    def partition_leaders_on_broker(self, broker_id: int) -> list[TopicPartition]:
        """The partitions this broker leads that a controlled shutdown could move (more than one
        replica), as Kafka's partitionLeadersOnBroker."""
        return [
            tp
            for tp, lice in self.leadership.items()
            if lice.leader_and_isr.leader == broker_id
            and len(self.replicas(tp)) > 1
            and not self.is_queued_for_deletion(tp.topic)
        ]

    def partitions_with_leaders(self) -> list[TopicPartition]:
        return [tp for tp in self.leadership if not self.is_queued_for_deletion(tp.topic)]

    # -- states ------------------------------------------------------------------------------
    def partition_state(self, tp: TopicPartition) -> PartitionState:
        return self.partition_states.get(tp, PartitionState.NON_EXISTENT)

    def replica_state(self, pr: PartitionAndReplica) -> ReplicaState:
        return self.replica_states.get(pr, ReplicaState.NON_EXISTENT)

    def partitions_in_states(self, states: set[PartitionState], topic: str | None = None) -> list[TopicPartition]:
        return [tp for tp, s in self.partition_states.items() if s in states and (topic is None or tp.topic == topic)]

    def replicas_in_state(self, topic: str, state: ReplicaState) -> list[PartitionAndReplica]:
        return [pr for pr in self.replicas_for_topic(topic) if self.replica_state(pr) is state]

    def are_all_replicas_in_state(self, topic: str, state: ReplicaState) -> bool:
        return all(self.replica_state(pr) is state for pr in self.replicas_for_topic(topic))

    def is_any_replica_in_state(self, topic: str, state: ReplicaState) -> bool:
        return any(self.replica_state(pr) is state for pr in self.replicas_for_topic(topic))

    def online_and_offline_replicas(self) -> tuple[list[PartitionAndReplica], list[PartitionAndReplica]]:
        online, offline = [], []
        for tp in self.all_partitions:
            for r in self.replicas(tp):
                (online if self.is_replica_online(r) else offline).append(PartitionAndReplica(tp, r))
        return online, offline

    # -- deletion ---------------------------------------------------------------------------------
    def is_queued_for_deletion(self, topic: str) -> bool:
        return topic in self.topics_to_be_deleted

    def queue_topic_deletion(self, topics: Iterable[str]) -> None:
        self.topics_to_be_deleted |= set(topics)
