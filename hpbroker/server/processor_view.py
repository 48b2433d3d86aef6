"""What a processor knows about the node: a read-only ``broker`` for the handlers it runs itself.

The processor runs the ApiVersions, Metadata, FindCoordinator and Fetch handler modules
unchanged; they see this object where the in-process mode gives them a BrokerContext:

- ``topics``: the topic registry, re-read from the controller's snapshot in shared memory
  (server/metadata_snapshot.py) whenever the metadata generation there moved;
- ``partition(topic, index)``: a read-only view of a partition: log_start_offset,
  high_watermark and log_end_offset from the owner's row of the partition table, and a
  PartitionLogReader over the segment files that never reads at or above that high watermark;
- ``fetch_purgatory``: parked long-poll Fetches; ``poll_table`` wakes the keys whose row moved
  since the waiter last read it. It runs when a handler wakes this processor after an append
  (handlers do that only while the processor flags parked Fetches in the control block) and on
  a slow fallback timer (tuning.md compares this with polling alone).

Who may touch: the event loop of one processor process.
"""
from __future__ import annotations

import os

from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.handlers.context import log_config_for
from hpbroker.metadata.topics import TopicRegistry, validate_topic_name, InvalidTopic
from hpbroker.replication.purgatory import Purgatory
from hpbroker.server.routing import owner
from hpbroker.storage import OffsetOutOfRange
from hpbroker.storage.log import ReadResult
from hpbroker.storage.reader import PartitionLogReader

FIND_COORDINATOR = 10


class _ReadView:
    """``partition.log`` for the Fetch handler: reads bounded by the published offsets, and
    kept off segment files the owner is replacing (the table's rewrite counter, a seqlock:
    server/partition_table.py)."""
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
        result = reader.read(fetch_offset, max_bytes, upper_bound=bound, min_one_batch=min_one_batch,
                             log_start_offset=self.log_start_offset)
        if self.rewrites() != seen:
            return nothing  # files moved while it read: what it opened may not belong together
        return result


class ReaderPartition:
    __slots__ = ("topic", "index", "leader_epoch", "log_start_offset", "high_watermark", "log_end_offset", "log")

    def __init__(self, topic, index, reader, lso, hw, leo, epoch, rewrites):
        self.topic, self.index, self.leader_epoch = topic, index, epoch
        self.log_start_offset, self.high_watermark, self.log_end_offset = lso, hw, leo
        self.log = _ReadView(reader, lso, hw, leo, rewrites)


class ProcessorBroker:
    def __init__(self, config, node, topology, cluster_id: str = "hpbroker-cluster"):
        self.config = config
        self.node = node
        self.cluster_id = cluster_id
        self.topo = topology
        self.table = topology.table()
        self.log_dirs = [d for d in config.get("log.dirs").split(",") if d]
        self.fetch_purgatory = Purgatory()
        self._generation = -1
        self.topics: TopicRegistry | None = None
        self._rows: dict[tuple[str, int], int] = {}
        self._readers: dict[tuple[str, int], tuple[bytes, PartitionLogReader]] = {}
        self._seen_gen: dict[tuple[str, int], int] = {}
        self.refresh()

    def refresh(self) -> None:
        gen = self.topo.metadata_generation
        if gen == self._generation:
            return
        self._generation = gen
        self.topics = self.topo.read_registry(os.path.join(self.log_dirs[0], "__topics.json"))
        self.config.follow(self.topics.broker_configs, self.topics.broker_default_configs)  # AlterConfigs
        for key, (topic_id, reader) in list(self._readers.items()):
            info = self.topics.get(key[0])
            if info is None or info.topic_id != topic_id or key[1] >= info.num_partitions:
                reader.close()
                del self._readers[key]
                self._rows.pop(key, None)
                self.fetch_purgatory.notify(key)

    def effective_topic_config(self, info):
        return self.config.effective_topic_config(info.configs)

    def needs_controller(self, api_key: int, request: dict, api_version: int) -> bool:
        """A Metadata request that would auto-create a topic, or a FindCoordinator for a group
        before __consumer_offsets exists (the first one creates it): only the controller may."""
        if api_key == FIND_COORDINATOR:
            return request.get("key_type", 0) == 0 and GROUP_METADATA_TOPIC not in self.topics
        requested = request.get("topics")
        if requested is None or (api_version == 0 and not requested):
            return False
        if not (request.get("allow_auto_topic_creation", True) and self.config.get("auto.create.topics.enable")):
            return False
        for t in requested:
            name = t["name"]
            if name in self.topics:
                continue
            try:
                validate_topic_name(name or "")
            except InvalidTopic:
                continue
            return True
        return False

    def offsets_partitions(self) -> int | None:
        """The partition count __consumer_offsets was created with (it places every group), or
        None before it exists."""
        info = self.topics.get(GROUP_METADATA_TOPIC)
        return None if info is None else info.num_partitions

    def ensure_group_coordinator(self) -> bool:
        """FindCoordinator here: the topic exists (else the request went to the controller), and
        each handler loads the coordinator shards it owns on the first group request it serves."""
        return True

    def create_topic(self, *args):  # never reached: such Metadata requests go to the controller
        raise RuntimeError("a processor does not create topics")

    def _directory(self, topic: str, index: int) -> str | None:
        name = f"{topic}-{index}"
        for d in self.log_dirs:
            path = os.path.join(d, name)
            if os.path.isdir(path):
                return path
        return None

    def partition(self, topic: str, index: int) -> ReaderPartition | None:
        info = self.topics.get(topic)
        if info is None or not 0 <= index < info.num_partitions:
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
            reader = PartitionLogReader(path, log_config_for(self.effective_topic_config(info)))
            reader.rewrites_seen = -1  # its first read re-lists (it may have listed mid-move)
            self._readers[key] = cached = (info.topic_id, reader)
        return ReaderPartition(topic, index, cached[1], lso, hw, leo, epoch, lambda: table.rewrites(row))

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
