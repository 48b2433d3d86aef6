"""GroupCoordinator: this process's shards, and the one path from records to the log to state.

The coordinator of a group is the owner of its __consumer_offsets partition
(``partition_for(group_id, offsets.topic.num.partitions)``). Each partition has its own
``GroupCoordinatorShard``; this class holds the shards of the partitions this process owns (in
the single-process server: all of them), creates the topic on first use, loads each shard by
replaying its partition, and runs every write the same way:

    records, result = shard.<operation>(...)   # decide
    coordinator.write(shard, records)          # append one batch, then shard.replay(each record)

In multi-process mode a handler process builds a GroupCoordinator for the partitions it owns
(``owned`` below), and the processors route every group request (JoinGroup, SyncGroup,
Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch) by ``partition_for(group_id)`` to the owner of
that partition; DescribeGroups and DeleteGroups are split by owner, ListGroups asks every
handler (server/routing.py).

Who may touch: the event loop of the process that owns the shards.
"""
from __future__ import annotations

import logging
import time

from hpbroker.coordinator.records import (
    RecordFormatError, decode_key, decode_value, encode_key, encode_value, partition_for,
)
from hpbroker.coordinator.shard import CoordinatorConfig, GroupCoordinatorShard
from hpbroker.records.batch import read_header
from hpbroker.records.builder import build_batch
from hpbroker.records.records import iter_batch_records
from hpbroker.storage.fd_limits import partition_room
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)

GROUP_METADATA_TOPIC = "__consumer_offsets"
_READ_CHUNK = 1 << 20
COMPACT_MIN_RECORDS = 1000  # a partition's log is compacted once it holds this many records ...
_SNAPSHOT_BATCH = 500  # ... and at least twice its live ones; the live ones go in batches of this


def coordinator_config(config) -> CoordinatorConfig:
    return CoordinatorConfig(
        initial_rebalance_delay_ms=int(config.get("group.initial.rebalance.delay.ms")),
        min_session_timeout_ms=int(config.get("group.min.session.timeout.ms")),
        max_session_timeout_ms=int(config.get("group.max.session.timeout.ms")),
        offsets_retention_ms=int(config.get("offsets.retention.minutes")) * 60_000,
        group_max_size=int(config.get("group.max.size")),
    )


class GroupCoordinator:
    def __init__(self, broker, owned=None):
        self.broker = broker
        self.config = coordinator_config(broker.config)
        info = broker.topics.get(GROUP_METADATA_TOPIC)
        if info is None:
            n = int(broker.config.get("offsets.topic.num.partitions"))
            info = broker.create_topic(GROUP_METADATA_TOPIC, n, {"cleanup.policy": "compact"})
            log.info("created %s with %d partitions", GROUP_METADATA_TOPIC, n)
        # the partition count fixed at creation decides placement forever (changing it would move groups)
        self.num_partitions = info.num_partitions
        self.shards: dict[int, GroupCoordinatorShard] = {}
        # owned partitions whose log is not open in this process yet: a handler that applies a new
        # __consumer_offsets while the disk refuses its files opens them on a later retry. Their
        # groups are answered NOT_COORDINATOR (Kafka's answer while a coordinator partition is
        # offline) and loaded on the first request after the log opens.
        self.unloaded: set[int] = set()
        self.expiry_interval_s = int(broker.config.get("offsets.retention.check.interval.ms")) / 1000
        self._next_expiry = time.monotonic() + self.expiry_interval_s
        for p in (range(self.num_partitions) if owned is None else owned):
            shard = self._load(p)
            if shard is None:
                self.unloaded.add(p)
            else:
                self.shards[p] = shard
        if self.unloaded:
            log.warning("%s: %d owned partitions not open yet; their groups wait until they are",
                        GROUP_METADATA_TOPIC, len(self.unloaded))

    # -- placement --------------------------------------------------------------------------------
    def partition_for(self, group_id: str) -> int:
        return partition_for(group_id, self.num_partitions)

    def shard_for(self, group_id: str) -> GroupCoordinatorShard | None:
        """The shard coordinating ``group_id``, or None if another process owns it (or this one
        does but has not opened its partition yet)."""
        p = self.partition_for(group_id)
        shard = self.shards.get(p)
        if shard is None and p in self.unloaded:
            shard = self._load_opened(p)
        return shard

    def load_opened(self) -> bool:
        """Load every owned shard whose log has opened since; True if all of them are loaded
        (ListGroups answers COORDINATOR_LOAD_IN_PROGRESS while one is not)."""
        for p in sorted(self.unloaded):
            self._load_opened(p)
        return not self.unloaded

    def _load_opened(self, p: int) -> GroupCoordinatorShard | None:
        shard = self._load(p)
        if shard is not None:
            self.unloaded.discard(p)
            self.shards[p] = shard
        return shard

    # -- the write path ---------------------------------------------------------------------------
    def write(self, shard: GroupCoordinatorShard, records) -> None:
        """Append ``records`` [(key, value)] to the shard's partition as one batch, then replay
        them into the shard. Nothing changes in memory if the append fails."""
        if not records:
            return
        self._append(self.broker.partition(GROUP_METADATA_TOPIC, shard.partition_index), records)
        for k, v in records:
            shard.replay(k, v)

    def _append(self, partition, records) -> None:
        """``records`` [(key, value)] as one batch at the end of ``partition``, published."""
        batch = build_batch([(encode_key(k), encode_value(v)) for k, v in records])
        partition.log.append(batch, leader_epoch=partition.leader_epoch)
        partition.log.high_watermark = partition.log.log_end_offset  # single node: ISR is us
        self.broker.notify_append(GROUP_METADATA_TOPIC, partition.index)

    # -- offsets retention ------------------------------------------------------------------------
    def maybe_expire_offsets(self) -> int:
        """Every offsets.retention.check.interval.ms: write the tombstones of expired offsets
        (and groups), shard by shard. Returns how many records were written."""
        now = time.monotonic()
        if now < self._next_expiry:
            return 0
        self._next_expiry = now + self.expiry_interval_s
        n = 0
        for shard in self.shards.values():
            records = shard.expire_offsets()
            self.write(shard, records)
            n += len(records)
        if n:
            log.info("expired %d committed offsets and groups (offsets.retention.minutes)", n)
        return n

    # -- compaction -------------------------------------------------------------------------------
    def compact(self) -> int:
        """Compact the partitions whose logs are mostly superseded records; how many were."""
        return sum(self._maybe_compact(shard) for shard in self.shards.values())

    def _maybe_compact(self, shard: GroupCoordinatorShard) -> bool:
        """__consumer_offsets is a compacted topic: only the latest record of each key matters.
        Once the records since the log start are at least COMPACT_MIN_RECORDS and twice the live
        ones, the shard's live records (``snapshot_records``) are appended after a roll, flushed,
        and the log start moves to them: every older segment is deleted. A crash before the move
        leaves the old records followed by the snapshot, which replays to the same state; the
        log is never without a complete copy. Cost: the live records, once per at least as many
        superseded ones."""
        partition = self.broker.partition(GROUP_METADATA_TOPIC, shard.partition_index)
        if partition is None:
            return False
        plog = partition.log
        written = plog.log_end_offset - plog.log_start_offset
        if written < COMPACT_MIN_RECORDS:
            return False
        live = shard.live_records()
        if written < 2 * live:
            return False
        plog.roll()
        start = plog.log_end_offset
        records = shard.snapshot_records()
        for i in range(0, len(records), _SNAPSHOT_BATCH):
            self._append(partition, records[i:i + _SNAPSHOT_BATCH])
        plog.flush()  # the snapshot is on disk before the records it replaces are deleted
        plog.advance_log_start_offset(start)
        log.info("%s-%d: compacted %d records into %d", GROUP_METADATA_TOPIC, shard.partition_index,
                 written, len(records))
        return True

    # -- loading ----------------------------------------------------------------------------------
    def _load(self, index: int) -> GroupCoordinatorShard | None:
        """The shard of partition ``index``, replayed from its log; None if the log is not open."""
        partition = self.broker.partition(GROUP_METADATA_TOPIC, index)
        if partition is None:
            return None
        shard = GroupCoordinatorShard(index, self.config)
        shard._write = lambda records, s=shard: self.write(s, records)
        n = 0
        for key_bytes, value_bytes in iter_log_records(partition.log):
            try:
                key = decode_key(key_bytes)
                value = decode_value(key, value_bytes)
            except RecordFormatError as exc:
                log.warning("%s-%d: skipping a record: %s", GROUP_METADATA_TOPIC, index, exc)
                continue
            shard.replay(key, value)
            n += 1
        if n:
            log.info("%s-%d: loaded %d groups from %d records", GROUP_METADATA_TOPIC, index, len(shard.groups), n)
        return shard


def iter_log_records(plog):
    """(key, value) of every data record in a partition log, oldest first."""
    offset = plog.log_start_offset
    end = plog.log_end_offset
    while offset < end:
        buf = plog.read_bytes(offset, _READ_CHUNK, upper_bound=end, min_one_batch=True)
        if not buf:
            break
        pos = 0
        last = None
        while pos + 61 <= len(buf):
            h = read_header(buf, pos)
            if pos + h.size > len(buf):
                break
            if not h.is_control:
                for r in iter_batch_records(buf, pos):
                    if r.offset >= offset and r.key is not None:
                        yield r.key, r.value
            last = h.last_offset
            pos += h.size
        if last is None:
            break
        offset = last + 1


def get_coordinator(broker) -> GroupCoordinator | None:
    """The process's GroupCoordinator, created (topic, shards loaded) on the first group request;
    None in a process that may not create topics (a handler other than the controller), or has
    no room for the topic's partitions under its open-file limit or on its disk, while
    __consumer_offsets does not exist: its group requests are then answered NOT_COORDINATOR."""
    coordinator = getattr(broker, "group_coordinator", None)
    if coordinator is None:
        info = broker.topics.get(GROUP_METADATA_TOPIC)
        if info is None and not getattr(broker, "creates_topics", True):
            return None
        if info is None and int(broker.config.get("offsets.topic.num.partitions")) > partition_room():
            # out of open files (storage/fd_limits.py): no topic, no coordinator, until there is room
            log.warning("cannot create %s: no room under the open-file limit", GROUP_METADATA_TOPIC)
            return None
        owns = getattr(broker, "owns", None)
        owned = None
        if owns is not None:
            n = info.num_partitions if info else int(broker.config.get("offsets.topic.num.partitions"))
            owned = [p for p in range(n) if owns(GROUP_METADATA_TOPIC, p)]
        try:
            coordinator = broker.group_coordinator = GroupCoordinator(broker, owned)
        except OSError as exc:  # a full disk: the topic was not created; asked again next time
            warn_storage_failure(log, (GROUP_METADATA_TOPIC, "create"), "cannot create %s: %s",
                                 GROUP_METADATA_TOPIC, exc)
            return None
    return coordinator
