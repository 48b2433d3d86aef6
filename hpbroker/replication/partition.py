"""A partition this broker holds: its log, leader epoch, ISR, high watermark and producer state.

Theory of operation (Kafka's Partition, DESIGN.md section 5). As the leader it appends client
batches in its leader epoch and tracks each follower (``FollowerState``) from the Fetch requests
the follower sends: their ``fetch_offset`` is the follower's log end offset (LEO), and the time of
the last fetch that reached the leader's LEO is when it was last caught up. The high watermark
(HW) is the minimum LEO of the leader and the followers in the ISR; it never moves back. A
follower is out of sync when it is behind the LEO and has not been caught up within
``replica.lag.time.max.ms``; it may rejoin once its LEO reaches both the HW and the start offset
of the current leader epoch. The ISR itself changes only through ``isr`` after the replica
manager's conditional write to ZooKeeper succeeded.

As a follower it takes the leader's batches as they are (``append_as_follower``: CRC and offsets
checked, nothing re-validated), keeps its leader epoch cache and producer state from their
headers, takes min(leader HW, own LEO) as its HW and follows the leader's log start offset. A
truncation (``truncate_to``) rebuilds the producer state from the log.

A partition with one replica (a single node, or replication factor 1) has the HW follow the LEO
after every append.

Transactions (Kafka's KIP-98 partition side). A transactional batch opens its producer's
transaction (producer_state.py); the coordinator's COMMIT or ABORT marker, a control batch the
leader appends (``append_marker``) and followers copy like any batch, closes it; an aborted one
is written to the active segment's ``.txnindex`` (storage/txn_index.py). The last stable offset
(LSO) is the smallest first offset of a transaction still open, or of one completed whose marker
is not below the HW yet, bounded by the HW: read_committed consumers read below it only.

Append path for client batches (Kafka's UnifiedLog.appendAsLeader + LogValidator), per batch:
size limit, CRC/format (Cython), the per-record rules (keys on a compacted topic, timestamp
bounds; record_checks.py), idempotence, then the log assigns offsets in place. Record bytes are
never touched in Python; a topic whose compression.type names another codec than the batch's has
the batch recompressed (codec libraries, once per batch).

Who may touch: the one owner of the partition (the event loop of its handler); readers in other
processes see only what ``high_watermark`` published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hpbroker.records import batch as rb
from hpbroker.records.builder import COMMIT, build_control_batch, control_type, recompress_batch
from hpbroker.records.compression import CompressionError
from hpbroker.records.record_checks import RecordErrors, check_records
from hpbroker.replication.producer_state import CompletedTxn, ProducerStateError, ProducerStateManager
from hpbroker.storage.txn_index import AbortedTxn

NONE = 0
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
UNSUPPORTED_COMPRESSION_TYPE = 76
INVALID_RECORD = 87


class AppendError(Exception):
    def __init__(self, error_code: int, message: str, record_errors: list | None = None):
        super().__init__(message)
        self.error_code = error_code
        #: [(batch_index, message)] of every record that made the batch fail, ascending
        #: (ProduceResponse v8, record_checks.py)
        self.record_errors = record_errors or []


@dataclass(slots=True)
class FollowerState:
    """What the leader knows of one follower (Kafka's Replica): its LEO from its last fetch (-1:
    none since this broker became leader), when it was last caught up, and the leader's LEO and
    the time at its previous fetch (KAFKA-1546: a follower that reached the LEO as it was at its
    previous fetch was caught up then)."""

    log_end_offset: int = -1
    last_caught_up_time_ms: int = 0
    last_fetch_leader_log_end_offset: int = 0
    last_fetch_time_ms: int = 0
    log_start_offset: int = -1


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class AppendResult:
    base_offset: int
    last_offset: int
    log_append_time: int  # -1 under CreateTime
    log_start_offset: int
    duplicate: bool = False


class Partition:
    def __init__(self, topic: str, index: int, log, leader_epoch: int = 0):
        self.topic = topic
        self.index = index
        self.log = log
        self.leader_epoch = leader_epoch
        # Leadership, as the controller's LeaderAndIsr last set it (a single node: leader of every
        # partition, at epoch 0). ``partition_epoch`` is the zkVersion of the partition's state
        # znode, the CAS token of an ISR change; ``controller_epoch`` that of the controller that
        # decided this state.
        self.is_leader = True
        self.leader_id = -1
        self.replicas: tuple[int, ...] = ()
        self.isr: tuple[int, ...] = ()
        self.partition_epoch = 0
        self.controller_epoch = 0
        self.topic_id: bytes | None = None
        #: the leader's view of each other replica (empty on a follower)
        self.followers: dict[int, FollowerState] = {}
        #: the LEO when this broker became leader: a follower rejoins the ISR only past it
        self.leader_epoch_start_offset = -1
        #: an ISR change of this partition is being written to ZooKeeper
        self.isr_change_in_flight = False
        self.producer_state = ProducerStateManager()
        #: transactions completed whose marker is not below the HW yet (they hold the LSO)
        self.unreplicated_txns: list[CompletedTxn] = []
        self._rebuild_producer_state()
        # a partition is replicated once LeaderAndIsr names more than one replica; until then
        # (a single node) everything in the log is replicated to the whole ISR, this broker
        self.replicated = False
        self.log.high_watermark = self.log.log_end_offset
        self.log.stable_bound = self.first_unstable_offset

    def _rebuild_producer_state(self) -> None:
        """Producer state from the newest snapshot plus the batch headers after it. A marker
        among them is read (one record per transaction): an ABORT whose .txnindex entry is
        missing (a crash between the marker's append and its entry) gets its entry again."""
        log = self.log
        self.producer_state = ProducerStateManager()
        self.unreplicated_txns = []
        snapshot = self.producer_state.load_snapshot(log.directory, log.log_end_offset)
        start = log.log_start_offset if snapshot is None else max(snapshot, log.log_start_offset)
        indexed = None
        for h in log.iter_batch_headers(start):
            if h.base_offset < start:
                continue
            if not h.is_control or h.producer_id < 0:
                self.producer_state.replay((h,))
                continue
            marker, coordinator_epoch = control_type(
                log.read_bytes(h.base_offset, h.size, upper_bound=h.last_offset + 1)
            )
            done = self.producer_state.complete_txn(
                h.producer_id, h.producer_epoch, h.base_offset, marker == COMMIT, coordinator_epoch, h.max_timestamp
            )
            if done is not None and done.is_aborted:
                if indexed is None:
                    indexed = {t.last_offset for t in log.aborted_transactions(start, log.log_end_offset)}
                if done.last_offset not in indexed:
                    log.append_aborted_txn(
                        AbortedTxn(
                            done.producer_id,
                            done.first_offset,
                            done.last_offset,
                            self._first_unstable(done.last_offset),
                        ),
                        h.base_offset,
                    )
        self._snapshot_segment = log.active.base_offset  # a roll past it writes a snapshot

    def apply_leadership(
        self,
        local_broker_id: int,
        leader: int,
        leader_epoch: int,
        isr,
        replicas,
        partition_epoch: int,
        controller_epoch: int,
    ) -> None:
        """Take the state a LeaderAndIsr carried (its leader epoch is newer than ours: the caller
        checked). A leader appends from now on in ``leader_epoch``, which starts at its LEO
        (written to the epoch cache at once, KAFKA-7415); the ISR members count as caught up now.
        A follower takes no client writes."""
        replicas = tuple(replicas)
        self.leader_id = leader
        self.is_leader = leader == local_broker_id
        self.leader_epoch = leader_epoch
        self.isr = tuple(isr)
        self.replicas = replicas
        self.partition_epoch = partition_epoch
        self.controller_epoch = controller_epoch
        self.replicated = len(replicas) > 1 or self.isr not in ((), (local_broker_id,))
        self.isr_change_in_flight = False
        if self.is_leader:
            leo = self.log.log_end_offset
            self.log.leader_epoch_cache.assign(leader_epoch, leo)
            self.leader_epoch_start_offset = leo
            now = now_ms()
            self.followers = {
                r: FollowerState(last_caught_up_time_ms=now if r in self.isr else 0, last_fetch_time_ms=now)
                for r in replicas
                if r != local_broker_id
            }
            self.maybe_increment_high_watermark()
        else:
            self.followers = {}
            self.leader_epoch_start_offset = -1

    # -- the leader's view of its followers ---------------------------------------------------------
    def update_follower_fetch(self, replica_id: int, fetch_offset: int, log_start_offset: int, now: int) -> bool:
        """A follower fetched from ``fetch_offset`` (its LEO). True if the HW moved. A broker that
        is not a replica of this partition is ignored (False)."""
        st = self.followers.get(replica_id)
        if st is None:
            return False
        leo = self.log.log_end_offset
        if fetch_offset >= leo:
            st.last_caught_up_time_ms = max(st.last_caught_up_time_ms, now)
        elif fetch_offset >= st.last_fetch_leader_log_end_offset:
            st.last_caught_up_time_ms = max(st.last_caught_up_time_ms, st.last_fetch_time_ms)
        st.log_end_offset = fetch_offset
        st.log_start_offset = log_start_offset
        st.last_fetch_leader_log_end_offset = leo
        st.last_fetch_time_ms = now
        return self.maybe_increment_high_watermark()

    def maybe_increment_high_watermark(self) -> bool:
        """Move the HW up to the minimum LEO of the leader and the ISR's followers (never down).
        True if it moved."""
        log = self.log
        new = log.log_end_offset
        followers = self.followers
        for r in self.isr:
            st = followers.get(r)
            if st is not None and st.log_end_offset < new:
                new = st.log_end_offset
        if new > log.high_watermark:
            log.high_watermark = new
            return True
        return False

    def follower_in_sync(self, replica_id: int) -> bool:
        """May this follower (re)join the ISR: its LEO reached the HW and the current leader
        epoch's start offset (Kafka's isFollowerInSync)."""
        st = self.followers.get(replica_id)
        return (
            st is not None
            and st.log_end_offset >= self.log.high_watermark
            and st.log_end_offset >= self.leader_epoch_start_offset
        )

    def out_of_sync_replicas(self, now: int, max_lag_ms: int) -> list[int]:
        """The ISR's followers behind the LEO and not caught up within ``max_lag_ms``."""
        leo = self.log.log_end_offset
        out = []
        for r in self.isr:
            st = self.followers.get(r)
            if st is not None and st.log_end_offset != leo and now - st.last_caught_up_time_ms > max_lag_ms:
                out.append(r)
        return out

    # -- the follower's side ----------------------------------------------------------------------
    def append_as_follower(self, records) -> int:
        """Append the batches a fetch from the leader returned, as they are (CRC and offsets are
        checked: storage's append_batches); the epoch cache and the producer state follow their
        headers. Returns the number of bytes appended."""
        mv = memoryview(records)
        n = len(mv)
        if n == 0:
            return 0
        log = self.log
        appended = log.append_batches(mv)
        cache = log.leader_epoch_cache
        pos = 0
        for _ in appended:  # one header read per batch
            h = rb.read_header(mv, pos)
            pos += h.batch_length + rb.LOG_OVERHEAD
            if h.partition_leader_epoch > cache.latest_epoch:
                cache.assign(h.partition_leader_epoch, h.base_offset)
            if h.producer_id < 0:
                continue
            if h.is_control:
                marker, coordinator_epoch = control_type(mv, pos - h.size)
                self._complete_txn(h, marker == COMMIT, coordinator_epoch)
            else:
                self.producer_state.update(
                    h.producer_id,
                    h.producer_epoch,
                    h.base_sequence,
                    h.last_sequence,
                    h.base_offset,
                    h.last_offset,
                    h.max_timestamp if h.log_append_time else -1,
                    h.max_timestamp,
                    h.is_transactional,
                )
        if log.active.base_offset != self._snapshot_segment:
            self._snapshot_segment = log.active.base_offset
            self.write_producer_snapshot()
        return n

    def follow_leader_offsets(self, leader_high_watermark: int, leader_log_start_offset: int) -> None:
        """After a fetch: the HW is min(leader's HW, own LEO); the log start follows the leader's
        (up to the HW)."""
        log = self.log
        log.high_watermark = min(leader_high_watermark, log.log_end_offset)
        start = min(leader_log_start_offset, log.high_watermark)
        if start > log.log_start_offset:
            log.advance_log_start_offset(start)

    def truncate_to(self, offset: int) -> None:
        """Cut the log (and its epoch cache) at ``offset``; the producer state is rebuilt."""
        if offset >= self.log.log_end_offset:
            return
        self.log.truncate_to(offset)
        self._rebuild_producer_state()

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """The leader's log starts past this one's end: start over, empty, at ``offset``."""
        self.log.truncate_fully_and_start_at(offset)
        self._rebuild_producer_state()

    def append_records_as_leader(self, batch) -> None:
        """Append a batch this broker built (the group coordinator's records) in the leader
        epoch; the HW follows as for a client's batch."""
        log = self.log
        if log.leader_epoch_cache.latest_epoch < self.leader_epoch:
            log.leader_epoch_cache.assign(self.leader_epoch, log.log_end_offset)
        info = log.append(batch, leader_epoch=self.leader_epoch)
        h = rb.read_header(batch)
        if h.producer_id >= 0:  # a transaction's offsets (TxnOffsetCommit): its producer's state
            self.producer_state.update(
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.last_sequence,
                info.base_offset,
                info.last_offset,
                -1,
                info.max_timestamp,
                h.is_transactional,
            )
        if self.replicated:
            self.maybe_increment_high_watermark()
        else:
            log.high_watermark_to_log_end()

    # -- transactions -----------------------------------------------------------------------------
    def _complete_txn(self, h, is_commit: bool, coordinator_epoch: int) -> None:
        """The marker ``h`` is in the log: close its producer's transaction, index it if aborted."""
        done = self.producer_state.complete_txn(
            h.producer_id, h.producer_epoch, h.base_offset, is_commit, coordinator_epoch, h.max_timestamp
        )
        if done is None:
            return
        if done.is_aborted:
            self.log.append_aborted_txn(
                AbortedTxn(
                    done.producer_id, done.first_offset, done.last_offset, self._first_unstable(done.last_offset)
                )
            )
        if done.last_offset >= self.log.high_watermark:
            self.unreplicated_txns.append(done)

    def _first_unstable(self, marker_offset: int) -> int:
        """The first unstable offset right after the marker at ``marker_offset`` (Kafka's
        lastStableOffset of an AbortedTxn)."""
        first = self.producer_state.first_unstable_offset()
        return marker_offset + 1 if first is None else min(first, marker_offset + 1)

    def append_marker(self, producer_id: int, producer_epoch: int, is_commit: bool, coordinator_epoch: int) -> int:
        """The transaction coordinator's COMMIT or ABORT marker for ``producer_id``, appended
        as the leader in its leader epoch; the marker's offset. Raises AppendError with
        INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED for a stale one."""
        try:
            self.producer_state.check_marker(producer_id, producer_epoch, coordinator_epoch)
        except ProducerStateError as exc:
            raise AppendError(exc.error_code, str(exc)) from None
        buf = build_control_batch(
            COMMIT if is_commit else 0,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            coordinator_epoch=coordinator_epoch,
        )
        log = self.log
        if log.leader_epoch_cache.latest_epoch < self.leader_epoch:
            log.leader_epoch_cache.assign(self.leader_epoch, log.log_end_offset)
        info = log.append(buf, leader_epoch=self.leader_epoch)
        self._complete_txn(rb.read_header(buf), is_commit, coordinator_epoch)
        if info.segment_base_offset != self._snapshot_segment:
            self._snapshot_segment = info.segment_base_offset
            self.write_producer_snapshot()
        if self.replicated:
            self.maybe_increment_high_watermark()
        else:
            log.high_watermark_to_log_end()
        return info.base_offset

    def first_unstable_offset(self) -> int | None:
        """The first offset of an open transaction, or of a completed one whose marker is not
        below the HW yet; None when there is none."""
        first = self.producer_state.first_unstable_offset()
        pending = self.unreplicated_txns
        if pending:
            hw = self.log.high_watermark
            pending[:] = [t for t in pending if t.last_offset >= hw]
            for t in pending:
                if first is None or t.first_offset < first:
                    first = t.first_offset
        return first

    @property
    def last_stable_offset(self) -> int:
        """min(first unstable offset, HW), never below the log start offset."""
        log = self.log
        lso = log.high_watermark
        first = self.first_unstable_offset()
        if first is not None and first < lso:
            lso = first
        return max(lso, log.log_start_offset)

    def aborted_transactions(self, fetch_offset: int, upper_bound: int):
        return self.log.aborted_transactions(fetch_offset, upper_bound)

    def write_producer_snapshot(self) -> None:
        """The producer state as of the log end offset (at a roll, and when the broker closes)."""
        if self.producer_state.producers:
            self.producer_state.write_snapshot(self.log.directory, self.log.log_end_offset)

    @property
    def high_watermark(self) -> int:
        return self.log.high_watermark

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    def append_from_client(
        self,
        buf,
        *,
        max_message_bytes: int,
        log_append_time: bool,
        allow_zstd: bool = True,
        timestamp_before_ms: int | None = None,
        timestamp_after_ms: int | None = None,
        keys_required: bool = False,
        target_codec: int | None = None,
        target_level: int | None = None,
    ) -> AppendResult:
        """Validate one client batch (Produce v3+: exactly one per partition) and append it;
        ``target_codec`` (the topic's compression.type, None for "producer") recompresses a
        batch sent with another codec, per batch, at ``target_level``, as Kafka does."""
        if buf is None or len(buf) == 0:
            raise AppendError(INVALID_RECORD, "produce request without a record batch")
        if len(buf) > max_message_bytes:
            raise AppendError(
                MESSAGE_TOO_LARGE,
                f"record batch of {len(buf)} bytes exceeds max.message.bytes {max_message_bytes}",
            )
        try:
            h = rb.validate(buf)
        except rb.InvalidRecordBatch as exc:
            raise AppendError(exc.error_code, exc.reason) from None
        codec = h.attributes & rb.CODEC_MASK
        if codec > rb.ZSTD:
            raise AppendError(CORRUPT_MESSAGE, f"unknown compression codec {codec}")
        if codec == rb.ZSTD and not allow_zstd:
            raise AppendError(UNSUPPORTED_COMPRESSION_TYPE, "zstd needs Produce v7 or later")
        # the clock only when something needs it (LogAppendTime, or a timestamp bound set)
        now = (
            int(time.time() * 1000)
            if (log_append_time or timestamp_before_ms is not None or timestamp_after_ms is not None)
            else -1
        )
        if log_append_time:  # the broker stamps the time: the producer's timestamps are not judged
            timestamp_before_ms = timestamp_after_ms = None
        try:
            payload = rb.validate_compressed_records(buf, h) if codec else None
            if keys_required or timestamp_before_ms is not None or timestamp_after_ms is not None:
                check_records(
                    buf if payload is None else payload,
                    0 if codec else rb.RECORD_BATCH_OVERHEAD,
                    h,
                    f"{self.topic}-{self.index}",
                    keys_required=keys_required,
                    now=now,
                    timestamp_before_ms=timestamp_before_ms,
                    timestamp_after_ms=timestamp_after_ms,
                )
        except RecordErrors as exc:
            raise AppendError(exc.error_code, exc.reason, exc.record_errors) from None
        except rb.InvalidRecordBatch as exc:
            raise AppendError(exc.error_code, exc.reason) from None
        if target_codec is not None and target_codec != codec:
            try:
                buf = recompress_batch(buf, h, target_codec, target_level)
            except CompressionError as exc:
                raise AppendError(CORRUPT_MESSAGE, f"cannot recompress the batch: {exc}") from None
            if len(buf) > max_message_bytes:
                raise AppendError(
                    MESSAGE_TOO_LARGE,
                    f"record batch of {len(buf)} bytes after recompression "
                    f"exceeds max.message.bytes {max_message_bytes}",
                )
            h = rb.read_header(buf)
        idempotent = h.producer_id >= 0
        transactional = h.is_transactional
        if transactional and not idempotent:
            raise AppendError(INVALID_RECORD, "a transactional batch without a producer id")
        if idempotent:
            try:
                dup = self.producer_state.check(
                    h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence, transactional
                )
            except ProducerStateError as exc:
                raise AppendError(exc.error_code, str(exc)) from None
            if dup is not None:
                return AppendResult(dup.first_offset, dup.last_offset, dup.timestamp, self.log.log_start_offset, True)
        log = self.log
        if log.leader_epoch_cache.latest_epoch < self.leader_epoch:
            log.leader_epoch_cache.assign(self.leader_epoch, log.log_end_offset)
        info = log.append(
            buf, leader_epoch=self.leader_epoch, log_append_time=now if log_append_time else None, header=h
        )
        append_time = now if log_append_time else -1
        if idempotent:
            self.producer_state.update(
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.last_sequence,
                info.base_offset,
                info.last_offset,
                append_time,
                info.max_timestamp,
                transactional,
            )
        if info.segment_base_offset != self._snapshot_segment:
            self._snapshot_segment = info.segment_base_offset
            self.write_producer_snapshot()
        if self.replicated:
            self.maybe_increment_high_watermark()
        else:
            log.high_watermark_to_log_end()
        return AppendResult(info.base_offset, info.last_offset, append_time, log.log_start_offset)
