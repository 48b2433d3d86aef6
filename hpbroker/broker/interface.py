"""The declared broker interface: everything a request handler may ask of a broker.

A handler module receives ``ctx.broker``, a ``Broker``, whichever topology runs it: the
in-process server's broker (hpbroker/broker/local.py), a handler process's (the same, holding
the partitions it owns: server/multiproc/handler_broker.py) or a processor's view
(server/multiproc/processor_broker.py). Kafka's split of KafkaApis' collaborators is the model:

- ``metadata`` (MetadataCache): the cluster as this broker knows it: topics, each partition's
  leader, leader epoch, replicas and ISR, the live brokers, the controller.
- ``replica_manager`` (ReplicaManager): the partitions this process holds and their logs, the
  topic configs in force, the fetch purgatory.
- ``controller`` (Controller): topic creation and deletion, partition counts, topic and broker
  config changes, producer ids. Its calls are coroutines: a broker that is not the controller
  asks the one that is, and awaits its answer. Refusals are ``ControllerError`` (a Kafka error
  code and message).
- ``group_coordinator``: the consumer groups whose __consumer_offsets partitions this process
  holds (hpbroker/coordinator/coordinator.py).
- ``txn_coordinator``: the transactional ids whose __transaction_state partitions this process
  leads (hpbroker/transaction/coordinator.py; handler 0 in the multi-process topology).
- ``stats`` (ProcessStats): what this process counts for the metrics endpoint (bytes and
  records in and out per topic, and the rest hpbroker/metrics/catalog.py names).
- ``cluster`` (ClusterRole): in a cluster, what the controller's requests act on (None on a
  single node).

Each topology implements every part with real behaviour: a process that cannot do a thing itself
either asks the process that can (a processor's controller forwards to handler 0) or answers as
Kafka does where that thing lives elsewhere (a handler other than handler 0 is not the
controller: NOT_CONTROLLER; a processor leads no partition for writing: ``partition`` is None,
while ``readable`` serves Fetch from the segment files).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from hpbroker.broker.control_requests import (
        LeaderAndIsrState,
        StopReplicaState,
        UpdateMetadataRequest,
    )
    from hpbroker.broker.metadata_cache import MetadataCache
    from hpbroker.config import BrokerConfig
    from hpbroker.coordinator.coordinator import GroupCoordinator
    from hpbroker.metadata.topic_configs import ProduceSettings
    from hpbroker.metadata.topics import TopicInfo
    from hpbroker.metrics.stats import ProcessStats
    from hpbroker.replication.partition import Partition
    from hpbroker.replication.purgatory import Purgatory
    from hpbroker.security.authorizer import AclAuthorizer
    from hpbroker.security.credentials import CredentialStore
    from hpbroker.storage.log import ReadResult
    from hpbroker.transaction.coordinator import TransactionCoordinator


@dataclass(frozen=True)
class Node:
    """A broker as clients reach it: ``host``/``port`` of its first advertised listener, and
    ``endpoints``, (listener name, host, port) of each (empty: the one address serves all)."""

    node_id: int
    host: str
    port: int
    endpoints: tuple[tuple[str, str, int], ...] = ()
    rack: str | None = None  # broker.rack, shown in Metadata and DescribeCluster

    def on(self, listener: str | None) -> Node | None:
        """This broker as seen by a client of ``listener`` (Kafka's Broker.getNode): None when it
        does not advertise that listener; ``listener`` None: as it is."""
        if listener is None or not self.endpoints:
            return self
        for name, host, port in self.endpoints:
            if name == listener:
                return Node(self.node_id, host, port, self.endpoints, self.rack)
        return None


class ControllerError(Exception):
    """The controller refused or could not make a change: the Kafka error code a client is told,
    and a message for it."""

    def __init__(self, code: int, message: str | None = None):
        super().__init__(message or f"error code {code}")
        self.code = code
        self.message = message


@runtime_checkable
class ReadableLog(Protocol):
    def read(
        self, fetch_offset: int, max_bytes: int, *, upper_bound: int | None = None, min_one_batch: bool = True
    ) -> ReadResult:
        """Whole batches from the one holding ``fetch_offset`` as file regions (sendfile)."""


@runtime_checkable
class ReadablePartition(Protocol):
    """What Fetch reads: the offsets the owner published and a log bounded by them."""

    topic: str
    index: int
    leader_epoch: int
    log_start_offset: int
    high_watermark: int
    log_end_offset: int
    log: ReadableLog


@runtime_checkable
class ReplicaManager(Protocol):
    """The partitions this process holds. Who may touch: the event loop of its process."""

    fetch_purgatory: Purgatory
    #: acks=all Produces waiting for a partition's high watermark, keyed by (topic, partition)
    produce_purgatory: Purgatory

    def partition(self, topic: str, index: int) -> Partition | None:
        """The partition if this process leads it and writes it (Produce, ListOffsets,
        DeleteRecords, DescribeProducers, the group coordinator's appends), else None."""

    def readable(self, topic: str, index: int) -> ReadablePartition | None:
        """The partition if this process can serve reads of it (Fetch), else None."""

    def not_led_error(self, topic: str, index: int) -> int:
        """The error code a request on a partition that ``partition``/``readable`` gave no
        partition for is answered: UNKNOWN_TOPIC_OR_PARTITION, or in a cluster, for a partition
        another broker leads (or none), NOT_LEADER_OR_FOLLOWER (the client then refreshes its
        metadata and follows the leader), as Kafka's ReplicaManager answers."""

    def topic_config(self, info: TopicInfo) -> Mapping[str, str]:
        """Every topic config of ``info`` in force (its overrides over the broker's defaults)."""

    def produce_settings(self, info: TopicInfo) -> ProduceSettings:
        """The topic configs a Produce checks each batch against, parsed once per change."""

    def notify_append(self, topic: str, index: int) -> None:
        """Records were appended to ``topic``-``index``: wake whoever waits for them."""

    def notify_high_watermark(self, topic: str, index: int) -> None:
        """The high watermark (or the leadership) of ``topic``-``index`` moved: wake parked
        acks=all Produces and Fetches."""

    def replica_partition(self, topic: str, index: int) -> ReadablePartition | None:
        """The partition if a follower may fetch it here (this process leads it), else None."""

    def record_follower_fetch(self, partition, replica_id: int, fetch_offset: int, log_start: int) -> None:
        """Follower ``replica_id`` fetched ``partition`` from ``fetch_offset`` (its log end
        offset): the leader's view of it, the HW and the ISR follow."""


@runtime_checkable
class Controller(Protocol):
    """Changes to the cluster's metadata. Each call completes when the change is in force on
    this node (every process of it that holds the topic has applied it); refusals raise
    ``ControllerError``.

    ``is_active``: whether this broker takes topic changes from clients (CreateTopics,
    DeleteTopics, CreatePartitions). A single node always does; in a cluster only the broker
    elected controller does, and the others answer NOT_CONTROLLER, as Kafka's brokers (the
    clients then ask the controller that Metadata names). Topics this broker creates for itself
    (auto-creation, __consumer_offsets) are created on any broker."""

    is_active: bool

    async def create_topic(
        self,
        name: str,
        num_partitions: int,
        configs: dict[str, str],
        replication_factor: int = -1,
        assignment: dict[int, list[int]] | None = None,
        wait: bool = True,
    ) -> None:
        """``replication_factor`` -1: the broker's default (offsets.topic.replication.factor for
        __consumer_offsets); ``assignment``: the replicas of each partition, instead of placing
        them; ``wait`` False: return once the change is written, without waiting for it to be
        in force (Metadata's auto-creation answers LEADER_NOT_AVAILABLE meanwhile)."""

    async def delete_topic(self, name: str) -> None: ...

    async def add_partitions(self, name: str, count: int, assignment: list[list[int]] | None = None) -> None:
        """Grow the topic to ``count`` partitions; ``assignment``: the new partitions' replicas,
        instead of placing them."""

    async def set_topic_configs(self, name: str, configs: dict[str, str]) -> None:
        """Replace the topic's config overrides with ``configs`` (already validated)."""

    async def set_broker_configs(self, configs: dict[str, str], cluster_default: bool = False) -> None:
        """Replace this broker's dynamic configs, or (``cluster_default``) the cluster-wide
        ones (the BROKER resource ""), with ``configs`` (already validated)."""

    async def next_producer_id(self) -> int:
        """A producer id never handed out before by this cluster (epoch 0)."""

    async def security_changed(self) -> None:
        """ACLs or SCRAM credentials were just written: every process of this node re-reads them
        before the change is answered (as after a topic change)."""


@runtime_checkable
class ClusterRole(Protocol):
    """What the inter-broker API modules (LeaderAndIsr, UpdateMetadata, StopReplica,
    ControlledShutdown) ask of a broker that is in a cluster (``Broker.cluster``; None on a
    single node). Each call is refused whole with STALE_CONTROLLER_EPOCH when it comes from an
    older controller than the last one heard, and with STALE_BROKER_EPOCH when it was meant for
    an earlier registration of this broker (its ``broker_epoch``)."""

    broker_epoch: int

    async def leader_and_isr(
        self,
        controller_id: int,
        controller_epoch: int,
        broker_epoch: int,
        states: list[LeaderAndIsrState],
        topic_ids: dict[str, bytes],
    ) -> tuple[int, dict[tuple[str, int], int]]:
        """Become leader or follower of each partition: (error code, per-partition errors)."""

    async def update_metadata(self, request: UpdateMetadataRequest) -> int:
        """Take the controller's view of brokers and partitions into the metadata cache."""

    async def stop_replica(
        self, controller_id: int, controller_epoch: int, broker_epoch: int, states: list[StopReplicaState]
    ) -> tuple[int, dict[tuple[str, int], int]]:
        """Stop (and maybe delete) replicas: (error code, per-partition errors)."""

    async def controlled_shutdown(self, broker_id: int, broker_epoch: int) -> tuple[int, list[tuple[str, int]]]:
        """As the controller: move ``broker_id``'s leaderships away; (error code, the partitions
        it still leads)."""


@runtime_checkable
class Broker(Protocol):
    """What ``ctx.broker`` is. Who may touch: the event loop of the process serving the request."""

    config: BrokerConfig
    node: Node
    cluster_id: str
    log_dirs: list[str]
    metadata: MetadataCache
    replica_manager: ReplicaManager
    controller: Controller
    group_coordinator: GroupCoordinator
    txn_coordinator: TransactionCoordinator
    credentials: CredentialStore
    authorizer: AclAuthorizer | None
    stats: ProcessStats
    cluster: ClusterRole | None
