"""The broker of a processor: what the handler modules it runs see as ``ctx.broker``.

A processor serves ApiVersions, Metadata, FindCoordinator, DescribeCluster, DescribeLogDirs and
Fetch itself (their ROUTE), with the same handler modules the other topologies run, against a
``Broker`` (broker/interface.py) made of what a processor can know and do:

- ``metadata``: a MetadataCache over the topic registry the controller published, re-read from
  its snapshot in shared memory (server/multiproc/metadata_snapshot.py) whenever the metadata generation
  there moved (``refresh``); in a cluster, a ClusterMetadataCache over the ClusterRegistry handler 0
  publishes (leaders, live brokers, controller, cluster id);
- ``replica_manager`` (``ReaderReplicaManager``): it leads no partition for writing
  (``partition`` is None: the handlers own them), and reads every partition whose owner
  published it (``readable``): log_start_offset, high_watermark and log_end_offset from the
  owner's row of the partition table, and a PartitionLogReader over the segment files that
  never reads at or above that high watermark (in a cluster, only while the metadata says this
  broker leads the partition: NOT_LEADER_OR_FOLLOWER otherwise). ``fetch_purgatory`` holds parked long-poll
  Fetches; ``poll_table`` wakes the keys whose row moved since the waiter last read it. It runs
  when a handler wakes this processor after an append (handlers do that only while the
  processor flags parked Fetches in the control block) and on a slow fallback timer;
- ``controller`` (``ForwardingController``): the processor asks the controller, handler 0, with
  Kafka requests through its ring and awaits the answers (``ProcessorServer.ask_controller``):
  a Metadata request that auto-creates a topic, the first FindCoordinator that creates
  __consumer_offsets;
- ``group_coordinator``: one that owns no __consumer_offsets partition (the handlers hold the
  groups); starting it creates the topic through the controller.

Who may touch: the event loop of one processor process.
"""

from __future__ import annotations

import os

from hpbroker.broker.local import DEFAULT_CLUSTER_ID
from hpbroker.broker.metadata_cache import ClusterMetadataCache, MetadataCache
from hpbroker.controller.forwarding import ForwardingController
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC, GroupCoordinator
from hpbroker.metadata.topic_configs import TopicConfigCache
from hpbroker.metrics.stats import ProcessStats
from hpbroker.protocol.errors import ErrorCode
from hpbroker.replication.purgatory import Purgatory
from hpbroker.security import authorizer
from hpbroker.security.credentials import FileCredentialStore
from hpbroker.server.multiproc.routing import owner
from hpbroker.storage import OffsetOutOfRange
from hpbroker.storage.log import ReadResult
from hpbroker.storage.reader import PartitionLogReader
from hpbroker.transaction.coordinator import TransactionCoordinator


def _owns_none(topic: str, partition: int) -> bool:
    return False


class _ReadView:
    """``partition.log`` for the Fetch handler: reads bounded by the published offsets, and
    kept off segment files the owner is replacing (the table's rewrite counter, a seqlock:
    server/multiproc/partition_table.py)."""

    __slots__ = ("reader", "log_start_offset", "high_watermark", "log_end_offset", "rewrites")

    def __init__(self, reader, log_start_offset, high_watermark, log_end_offset, rewrites):
        self.reader = reader
        self.log_start_offset = log_start_offset
        self.high_watermark = high_watermark
        self.log_end_offset = log_end_offset
        self.rewrites = rewrites  # () -> the partition's rewrite counter now

    def read(self, fetch_offset, max_bytes, *, upper_bound=None, min_one_batch=True):
        if fetch_offset < self.log_start_offset or fetch_offset > self.log_end_offset:
            raise OffsetOutOfRange(fetch_offset, self.log_start_offset, self.log_end_offset)
        bound = self.high_watermark if upper_bound is None else min(upper_bound, self.high_watermark)
        nothing = ReadResult(first_offset=fetch_offset, high_watermark=bound, log_start_offset=self.log_start_offset)
        seen = self.rewrites()
        if seen & 1:
            return nothing  # files are moving: nothing this time (the move's end wakes long polls)
        reader = self.reader
        if reader.rewrites_seen != seen:
            reader.reset()  # what it holds may be files the owner replaced
            reader.rewrites_seen = seen
        result = reader.read(
            fetch_offset,
            max_bytes,
            upper_bound=bound,
            min_one_batch=min_one_batch,
            log_start_offset=self.log_start_offset,
        )
        if self.rewrites() != seen:
            return nothing  # files moved while it read: what it opened may not belong together
        return result


class ReaderPartition:
    __slots__ = (
        "topic",
        "index",
        "leader_epoch",
        "log_start_offset",
        "high_watermark",
        "log_end_offset",
        "last_stable_offset",
        "log",
        "_reader",
    )

    def __init__(self, topic, index, reader, lso, hw, leo, epoch, rewrites, last_stable):
        self.topic, self.index, self.leader_epoch = topic, index, epoch
        self.log_start_offset, self.high_watermark, self.log_end_offset = lso, hw, leo
        self.last_stable_offset = last_stable
        self.log = _ReadView(reader, lso, hw, leo, rewrites)
        self._reader = reader

    def aborted_transactions(self, fetch_offset: int, upper_bound: int):
        """From the owner's .txnindex files (each entry is written before its marker's offset
        is published)."""
        return self._reader.aborted_transactions(fetch_offset, min(upper_bound, self.high_watermark))


class ReaderReplicaManager:
    """A processor's replica manager: the partitions the handlers publish, read-only."""

    def __init__(self, config, log_dirs: list[str], metadata: MetadataCache, topology, broker_id: int | None = None):
        self.metadata = metadata
        #: in a cluster, this broker's id: a partition is read only while the metadata says this
        #: broker leads it (None: a single node leads every partition)
        self.broker_id = broker_id
        self.log_dirs = log_dirs
        self.topo = topology
        self.table = topology.table()
        self.topic_configs = TopicConfigCache(config)
        self.fetch_purgatory = Purgatory()
        self.produce_purgatory = Purgatory()  # never used: Produce runs in the handlers
        self._rows: dict[tuple[str, int], int] = {}
        self._readers: dict[tuple[str, int], tuple[bytes, PartitionLogReader]] = {}
        self._seen_gen: dict[tuple[str, int], int] = {}

    def partition(self, topic: str, index: int) -> None:
        """None: a processor leads no partition for writing (each belongs to its handler)."""
        return None

    def readable(self, topic: str, index: int) -> ReaderPartition | None:
        info = self.metadata.topics.get(topic)
        if info is None or not 0 <= index < info.num_partitions:
            return None
        if self.broker_id is not None:
            state = self.metadata.partition_state(topic, index)
            if state is None or state.leader != self.broker_id:
                return None
        key = (topic, index)
        table = self.table
        row = self._rows.get(key)
        if row is None or not table.matches(row, info.topic_id, index):
            row = table.find(owner(topic, index, self.topo.handlers), info.topic_id, index)
            if row is None:  # the owner has not opened it yet (or is restarting)
                return None
            self._rows[key] = row
        gen, lso, hw, leo, epoch = table.read(row)
        self._seen_gen[key] = gen
        cached = self._readers.get(key)
        if cached is None or cached[0] != info.topic_id:
            path = self._directory(topic, index)
            if path is None:
                return None
            reader = PartitionLogReader(path, self.topic_configs.log_config(info))
            reader.rewrites_seen = -1  # its first read re-lists (it may have listed mid-move)
            self._readers[key] = cached = (info.topic_id, reader)
        return ReaderPartition(
            topic, index, cached[1], lso, hw, leo, epoch, lambda: table.rewrites(row), table.last_stable_offset(row)
        )

    def not_led_error(self, topic: str, index: int) -> int:
        if self.broker_id is not None and self.metadata.partition_state(topic, index) is not None:
            return ErrorCode.NOT_LEADER_OR_FOLLOWER
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION

    def topic_config(self, info):
        return self.topic_configs.effective(info)

    def produce_settings(self, info):
        return self.topic_configs.produce_settings(info)

    def notify_append(self, topic: str, index: int) -> None:
        self.fetch_purgatory.notify((topic, index))

    def notify_high_watermark(self, topic: str, index: int) -> None:
        self.fetch_purgatory.notify((topic, index))

    def replica_partition(self, topic: str, index: int) -> None:
        """None: a follower's Fetch goes to the handler that owns the partition."""
        return None

    def record_follower_fetch(self, partition, replica_id: int, fetch_offset: int, log_start: int) -> None:
        """Never called: ``replica_partition`` gives no partition here."""

    def _directory(self, topic: str, index: int) -> str | None:
        name = f"{topic}-{index}"
        for d in self.log_dirs:
            path = os.path.join(d, name)
            if os.path.isdir(path):
                return path
        return None

    def forget_gone(self) -> None:
        """Close the readers of partitions the metadata no longer has (deleted or re-created
        topics); their parked Fetches wake and answer UNKNOWN_TOPIC_OR_PARTITION."""
        topics = self.metadata.topics
        for key, (topic_id, reader) in list(self._readers.items()):
            info = topics.get(key[0])
            if info is None or info.topic_id != topic_id or key[1] >= info.num_partitions:
                reader.close()
                del self._readers[key]
                self._rows.pop(key, None)
                self.fetch_purgatory.notify(key)

    def poll_table(self) -> None:
        """Wake parked Fetches whose partition row moved since they read it."""
        table = self.table
        for key in self.fetch_purgatory.keys():
            row = self._rows.get(key)
            if row is None:
                self.fetch_purgatory.notify(key)  # unknown: let the fetch re-check and answer
                continue
            if table.generation(row) != self._seen_gen.get(key):
                self.fetch_purgatory.notify(key)

    def close(self) -> None:
        for _, reader in self._readers.values():
            reader.close()
        self._readers.clear()


class ProcessorBroker:
    def __init__(self, config, node, topology, ask_controller, cluster_id: str = DEFAULT_CLUSTER_ID, stats=None):
        self.config = config
        self.stats = stats if stats is not None else ProcessStats()
        self.node = node
        self.cluster_id = cluster_id
        self.topo = topology
        self.log_dirs = [d for d in config.get("log.dirs").split(",") if d]
        self._registry_path = os.path.join(self.log_dirs[0], "__topics.json")
        self.credentials = FileCredentialStore(self.log_dirs[0])
        self.authorizer = authorizer.from_config(config, self.log_dirs[0])
        self._generation = topology.metadata_generation
        #: in a cluster: the metadata handler 0 publishes (leaders, brokers, controller)
        self.in_cluster = bool(config.get("zookeeper.connect"))
        registry = topology.read_registry(self._registry_path, cluster=self.in_cluster)
        self.metadata = ClusterMetadataCache(node, registry) if self.in_cluster else MetadataCache(node, registry)
        if self.in_cluster:
            self.cluster_id = registry.cluster_id
        self._apply_broker_configs()
        self.replica_manager = ReaderReplicaManager(
            config, self.log_dirs, self.metadata, topology, node.node_id if self.in_cluster else None
        )
        self.controller = ForwardingController(ask_controller, self.refresh, node.node_id)
        self.group_coordinator = GroupCoordinator(
            config, self.metadata, self.replica_manager, self.controller, owns=_owns_none
        )
        #: owns no __transaction_state partition: starting it (FindCoordinator) creates the topic
        self.txn_coordinator = TransactionCoordinator(
            config, self.metadata, self.replica_manager, self.controller, None, owns=_owns_none
        )
        self.cluster = None  # the controller's requests go to handler 0 (their ROUTE)

    def refresh(self) -> None:
        """Apply the registry the controller published, if it moved since."""
        gen = self.topo.metadata_generation
        if gen == self._generation:
            return
        self._generation = gen
        registry = self.topo.read_registry(self._registry_path, cluster=self.in_cluster)
        self.metadata.update(registry)
        if self.in_cluster:
            self.cluster_id = registry.cluster_id
        self._apply_broker_configs()
        self.replica_manager.forget_gone()
        self.credentials.expire()  # the change may have been to ACLs or credentials
        if self.authorizer is not None:
            self.authorizer.expire()

    def _apply_broker_configs(self) -> None:
        """Both dynamic layers as the controller published them (AlterConfigs on the broker or
        on the cluster-wide resource "")."""
        registry = self.metadata.topics
        self.config.follow(registry.broker_configs, registry.broker_default_configs)

    def offsets_partitions(self) -> int | None:
        """The partition count __consumer_offsets was created with (it places every group), or
        None before it exists (routing sends group requests to the controller meanwhile)."""
        info = self.metadata.topics.get(GROUP_METADATA_TOPIC)
        return None if info is None else info.num_partitions

    def close(self) -> None:
        self.replica_manager.close()
