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
- ``stats`` (ProcessStats): what this process counts for the metrics endpoint (bytes and
  records in and out per topic, and the rest hpbroker/metrics/catalog.py names).

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


@dataclass(frozen=True)
class Node:
    """A broker as clients reach it: ``host``/``port`` of its first advertised listener, and
    ``endpoints``, (listener name, host, port) of each (empty: the one address serves all)."""

    node_id: int
    host: str
    port: int
    endpoints: tuple[tuple[str, str, int], ...] = ()

    def on(self, listener: str | None) -> Node | None:
        """This broker as seen by a client of ``listener`` (Kafka's Broker.getNode): None when it
        does not advertise that listener; ``listener`` None: as it is."""
        if listener is None or not self.endpoints:
            return self
        for name, host, port in self.endpoints:
            if name == listener:
                return Node(self.node_id, host, port, self.endpoints)
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

    def partition(self, topic: str, index: int) -> Partition | None:
        """The partition if this process leads it and writes it (Produce, ListOffsets,
        DeleteRecords, DescribeProducers, the group coordinator's appends), else None."""

    def readable(self, topic: str, index: int) -> ReadablePartition | None:
        """The partition if this process can serve reads of it (Fetch), else None."""

    def topic_config(self, info: TopicInfo) -> Mapping[str, str]:
        """Every topic config of ``info`` in force (its overrides over the broker's defaults)."""

    def produce_settings(self, info: TopicInfo) -> ProduceSettings:
        """The topic configs a Produce checks each batch against, parsed once per change."""

    def notify_append(self, topic: str, index: int) -> None:
        """Records were appended to ``topic``-``index``: wake whoever waits for them."""


@runtime_checkable
class Controller(Protocol):
    """Changes to the cluster's metadata. Each call completes when the change is in force on
    this node (every process of it that holds the topic has applied it); refusals raise
    ``ControllerError``."""

    async def create_topic(self, name: str, num_partitions: int, configs: dict[str, str]) -> None: ...

    async def delete_topic(self, name: str) -> None: ...

    async def add_partitions(self, name: str, count: int) -> None: ...

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
    credentials: CredentialStore
    authorizer: AclAuthorizer | None
    stats: ProcessStats
