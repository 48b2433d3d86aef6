"""GroupCoordinator: this process's shards, and the one path from records to the log to state.

The coordinator of a group is the owner of its __consumer_offsets partition
(``partition_for(group_id, offsets.topic.num.partitions)``). Each partition has its own
``GroupCoordinatorShard``; this class holds the shards of the partitions this process owns (in
the single-process server: all of them), loads each shard by replaying its partition, and runs
every write the same way:

    records, result = shard.<operation>(...)   # decide
    coordinator.write(shard, records)          # append one batch, then shard.replay(each record)

Every broker has one, made with it and started by its first group request (``start``, run by
the ``starts_coordinator`` decorator of the group API modules, or by FindCoordinator): it asks
the controller to create __consumer_offsets if it does not exist yet (an awaited call: the
controller may be another process), then loads the shards of the partitions this process owns.
Until it has started, every group is answered NOT_COORDINATOR (FindCoordinator:
COORDINATOR_NOT_AVAILABLE), and a later group request tries again.

In multi-process mode a handler process's coordinator holds the partitions it owns (``owns``
below), and the processors route every group request (JoinGroup, SyncGroup, Heartbeat,
LeaveGroup, OffsetCommit, OffsetFetch) by ``partition_for(group_id)`` to the owner of that
partition; DescribeGroups and DeleteGroups are split by owner, ListGroups asks every handler
(server/multiproc/routing.py). A processor's coordinator owns no partition: it only creates the
topic on the first FindCoordinator.

Who may touch: the event loop of the process that owns the shards.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time

from hpbroker.broker.interface import ControllerError
from hpbroker.coordinator.records import (
    RecordFormatError,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
    partition_for,
)
from hpbroker.coordinator.shard import CoordinatorConfig, GroupCoordinatorShard
from hpbroker.protocol.errors import ErrorCode
from hpbroker.records.batch import read_header
from hpbroker.records.builder import COMMIT, build_batch, control_type
from hpbroker.records.layout import TRANSACTIONAL_MASK
from hpbroker.records.records import iter_batch_records
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


def _every_partition(topic: str, partition: int) -> bool:
    return True


class GroupCoordinator:
    def __init__(self, broker_config, metadata, replica_manager, controller, owns=None):
        self.broker_config = broker_config
        self.config = coordinator_config(broker_config)
        self.metadata = metadata
        self.replica_manager = replica_manager
        self.controller = controller
        self.owns = owns or _every_partition
        # the partition count __consumer_offsets was created with decides placement forever
        # (changing it would move groups); None until started
        self.num_partitions: int | None = None
        self.shards: dict[int, GroupCoordinatorShard] = {}
        # owned partitions whose log is not open in this process yet: a handler that applies a new
        # __consumer_offsets while the disk refuses its files opens them on a later retry. Their
        # groups are answered NOT_COORDINATOR (Kafka's answer while a coordinator partition is
        # offline) and loaded on the first request after the log opens.
        self.unloaded: set[int] = set()
        self.expiry_interval_s = int(broker_config.get("offsets.retention.check.interval.ms")) / 1000
        self._next_expiry = time.monotonic() + self.expiry_interval_s

    @property
    def started(self) -> bool:
        return self.num_partitions is not None

    async def start(self) -> bool:
        """Load the shards of the owned partitions of __consumer_offsets, created first (by the
        controller) if it does not exist. False if it cannot be created now (no room under the
        open-file limit, a disk that refuses it, or this process is not the controller and the
        controller has not created it yet): asked again at the next group request."""
        if self.started:
            return True
        info = self.metadata.topics.get(GROUP_METADATA_TOPIC)
        if info is None:
            n = int(self.broker_config.get("offsets.topic.num.partitions"))
            try:
                await self.controller.create_topic(GROUP_METADATA_TOPIC, n, {"cleanup.policy": "compact"})
                log.info("created %s with %d partitions", GROUP_METADATA_TOPIC, n)
            except ControllerError as exc:
                if exc.code == ErrorCode.NOT_CONTROLLER:
                    return False  # the controller creates it at the first group request it gets
                if exc.code != ErrorCode.TOPIC_ALREADY_EXISTS:  # else another process was first
                    warn_storage_failure(
                        log, (GROUP_METADATA_TOPIC, "create"), "cannot create %s: %s", GROUP_METADATA_TOPIC, exc
                    )
                    return False
            if self.started:  # another request started it while this one waited
                return True
            info = self.metadata.topics.get(GROUP_METADATA_TOPIC)
            if info is None:
                return False
        self.num_partitions = info.num_partitions
        for p in range(self.num_partitions):
            if not self.owns(GROUP_METADATA_TOPIC, p):
                continue
            shard = self._load(p)
            if shard is None:
                self.unloaded.add(p)
            else:
                self.shards[p] = shard
        if self.unloaded:
            log.warning(
                "%s: %d owned partitions not open yet; their groups wait until they are",
                GROUP_METADATA_TOPIC,
                len(self.unloaded),
            )
        return True

    # -- leadership (a cluster) -----------------------------------------------------------------
    def elected(self, indexes) -> None:
        """This broker now leads these __consumer_offsets partitions: load their groups (Kafka's
        onElection). Before the coordinator starts there is nothing to do: it loads what it leads
        when it starts."""
        if not self.started:
            return
        for p in indexes:
            if p in self.shards:
                continue
            shard = self._load(p)
            if shard is None:
                self.unloaded.add(p)
            else:
                self.unloaded.discard(p)
                self.shards[p] = shard

    def resigned(self, indexes) -> None:
        """This broker no longer leads these partitions: their groups are another broker's
        (NOT_COORDINATOR here from now on; Kafka's onResignation)."""
        for p in indexes:
            self.shards.pop(p, None)
            self.unloaded.discard(p)

    # -- placement --------------------------------------------------------------------------------
    def partition_for(self, group_id: str) -> int:
        return partition_for(group_id, self.num_partitions)

    def shard_for(self, group_id: str) -> GroupCoordinatorShard | None:
        """The shard coordinating ``group_id``, or None if another process owns it (or this one
        does but has not opened its partition yet, or the coordinator has not started)."""
        if self.num_partitions is None:
            return None
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
        self._append(self.replica_manager.partition(GROUP_METADATA_TOPIC, shard.partition_index), records)
        for k, v in records:
            shard.replay(k, v)

    # -- offsets in a transaction (TxnOffsetCommit) ----------------------------------------------
    def write_txn(self, shard: GroupCoordinatorShard, records, producer_id: int, producer_epoch: int) -> None:
        """Append a transaction's offsets as a transactional batch of its producer; they are
        held aside (``pending_txn``) until the transaction's marker reaches this partition."""
        if not records:
            return
        partition = self.replica_manager.partition(GROUP_METADATA_TOPIC, shard.partition_index)
        batch = build_batch(
            [(encode_key(k), encode_value(v)) for k, v in records],
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            attributes=TRANSACTIONAL_MASK,
        )
        partition.append_records_as_leader(batch)
        self.replica_manager.notify_append(GROUP_METADATA_TOPIC, partition.index)
        shard.pending_txn.setdefault(producer_id, []).extend(records)

    def complete_txn(self, partition_index: int, producer_id: int, commit: bool) -> None:
        """A marker of ``producer_id`` was written to this __consumer_offsets partition: its
        offsets become the committed ones (COMMIT) or are dropped (ABORT)."""
        shard = self.shards.get(partition_index)
        if shard is None:
            return
        records = shard.pending_txn.pop(producer_id, [])
        if commit:
            for k, v in records:
                shard.replay(k, v)

    def complete(self, shard: GroupCoordinatorShard, records, result):
        """Append an operation's records (then replay them), and answer now or, for a parked
        JoinGroup/SyncGroup (a future), when it ends. What JoinGroup/SyncGroup leave here is at
        most the metadata of a group that became Empty, whose loss Kafka only logs; the leader's
        SyncGroup stores its assignment itself, first."""
        shard.write_or_warn(records)
        if isinstance(result, asyncio.Future):
            return _await_parked(result)
        return result

    def _append(self, partition, records) -> None:
        """``records`` [(key, value)] as one batch at the end of ``partition``, published."""
        batch = build_batch([(encode_key(k), encode_value(v)) for k, v in records])
        partition.append_records_as_leader(batch)
        self.replica_manager.notify_append(GROUP_METADATA_TOPIC, partition.index)

    def replication_of(self, shard: GroupCoordinatorShard):
        """An awaitable of the error code of the shard's last write once its partition's ISR has
        it (Kafka's offset commits are appended with acks=all), or None when it needs no wait:
        NONE, or REQUEST_TIMED_OUT after offsets.commit.timeout.ms, NOT_ENOUGH_REPLICAS_AFTER_APPEND
        when the ISR fell below min.insync.replicas, NOT_LEADER_OR_FOLLOWER when the leadership
        moved."""
        partition = self.replica_manager.partition(GROUP_METADATA_TOPIC, shard.partition_index)
        if partition is None or not partition.replicated or partition.high_watermark >= partition.log_end_offset:
            return None
        return _await_high_watermark(
            self.replica_manager,
            partition,
            partition.leader_epoch,
            partition.log_end_offset,
            self.broker_config.get("offsets.commit.timeout.ms") / 1000.0,
        )

    def run_maintenance(self) -> None:
        """Expire offsets and compact, on the broker's maintenance tick."""
        if not self.started:
            return
        try:
            self.maybe_expire_offsets()
            self.compact()
        except OSError as exc:  # a full disk: tried again next tick, reported now and then
            warn_storage_failure(
                log, (GROUP_METADATA_TOPIC, "maintenance"), "expiring or compacting __consumer_offsets failed: %s", exc
            )

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
        partition = self.replica_manager.partition(GROUP_METADATA_TOPIC, shard.partition_index)
        if partition is None or shard.pending_txn:  # open transactions' offsets live in the log
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
            self._append(partition, records[i : i + _SNAPSHOT_BATCH])
        plog.flush()  # the snapshot is on disk before the records it replaces are deleted
        plog.advance_log_start_offset(start)
        log.info(
            "%s-%d: compacted %d records into %d", GROUP_METADATA_TOPIC, shard.partition_index, written, len(records)
        )
        return True

    # -- loading ----------------------------------------------------------------------------------
    def _load(self, index: int) -> GroupCoordinatorShard | None:
        """The shard of partition ``index``, replayed from its log; None if the log is not open."""
        partition = self.replica_manager.partition(GROUP_METADATA_TOPIC, index)
        if partition is None:
            return None
        shard = GroupCoordinatorShard(index, self.config)
        shard._write = lambda records, s=shard: self.write(s, records)
        n = 0
        for key_bytes, value_bytes, pid in iter_log_entries(partition.log):
            if key_bytes is None:  # a marker: the producer's offsets count from now, or never
                records = shard.pending_txn.pop(pid, [])
                if value_bytes == COMMIT:
                    for key, value in records:
                        shard.replay(key, value)
                continue
            try:
                key = decode_key(key_bytes)
                value = decode_value(key, value_bytes)
            except RecordFormatError as exc:
                log.warning("%s-%d: skipping a record: %s", GROUP_METADATA_TOPIC, index, exc)
                continue
            if pid >= 0:
                shard.pending_txn.setdefault(pid, []).append((key, value))
                continue
            shard.replay(key, value)
            n += 1
        if n:
            log.info("%s-%d: loaded %d groups from %d records", GROUP_METADATA_TOPIC, index, len(shard.groups), n)
        return shard


def iter_log_records(plog):
    """(key, value) of every data record in a partition log, oldest first."""
    for key, value, _pid in iter_log_entries(plog):
        if key is not None:
            yield key, value


def iter_log_entries(plog):
    """Every record of a partition log, oldest first, as (key, value, producer id): data
    records with a key (producer id -1 unless the batch is transactional), and each transaction
    marker as (None, type, producer id) with type COMMIT or ABORT (records/builder.py)."""
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
            if h.is_control:
                if h.last_offset >= offset:
                    yield None, control_type(buf, pos)[0], h.producer_id
            else:
                pid = h.producer_id if h.is_transactional else -1
                for r in iter_batch_records(buf, pos):
                    if r.offset >= offset and r.key is not None:
                        yield r.key, r.value, pid
            last = h.last_offset
            pos += h.size
        if last is None:
            break
        offset = last + 1


async def _await_high_watermark(rm, partition, leader_epoch: int, required: int, timeout_s: float) -> int:
    key = (partition.topic, partition.index)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        if not partition.is_leader or partition.leader_epoch != leader_epoch:
            return ErrorCode.NOT_LEADER_OR_FOLLOWER
        if partition.high_watermark >= required:
            return ErrorCode.NONE
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return ErrorCode.REQUEST_TIMED_OUT
        await rm.produce_purgatory.watch([key], remaining)


async def _await_parked(fut: asyncio.Future) -> dict:
    return await fut


def starts_coordinator(handle):
    """For a group API module's ``handle``: the first group request a broker serves starts its
    group coordinator (``GroupCoordinator.start``, awaited), then the handler runs; every
    later one runs the handler at once."""

    @functools.wraps(handle)
    def run(ctx, request):
        if ctx.broker.group_coordinator.started:
            return handle(ctx, request)
        return _start_then(handle, ctx, request)

    return run


async def _start_then(handle, ctx, request):
    await ctx.broker.group_coordinator.start()
    result = handle(ctx, request)
    if inspect.isawaitable(result):
        result = await result
    return result
