"""A partition this node leads: its log, leader epoch, high watermark and producer state.

Single node: the ISR is this node alone, so the high watermark follows the log end offset right
after every append and acks=all is satisfied by the local write. Replication (DESIGN.md section 5)
will move the high watermark to the minimum log end offset of the ISR instead.

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
from hpbroker.records.builder import recompress_batch
from hpbroker.records.compression import CompressionError
from hpbroker.records.record_checks import RecordErrors, check_records
from hpbroker.replication.producer_state import ProducerStateError, ProducerStateManager

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
        self.producer_state = ProducerStateManager()
        snapshot = self.producer_state.load_snapshot(log.directory, log.log_end_offset)
        start = log.log_start_offset if snapshot is None else max(snapshot, log.log_start_offset)
        self.producer_state.replay(log.iter_batch_headers(start))
        self._snapshot_segment = log.active.base_offset  # a roll past it writes a snapshot
        # single node: everything in the log is replicated to the whole ISR (this node)
        self.log.high_watermark = self.log.log_end_offset

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
        checked). A leader appends from now on in ``leader_epoch``; a follower takes no writes."""
        self.leader_id = leader
        self.is_leader = leader == local_broker_id
        self.leader_epoch = leader_epoch
        self.isr = tuple(isr)
        self.replicas = tuple(replicas)
        self.partition_epoch = partition_epoch
        self.controller_epoch = controller_epoch

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
        if idempotent:
            try:
                dup = self.producer_state.check(h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence)
            except ProducerStateError as exc:
                raise AppendError(exc.error_code, str(exc)) from None
            if dup is not None:
                return AppendResult(dup.first_offset, dup.last_offset, dup.timestamp, self.log.log_start_offset, True)
        info = self.log.append(
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
            )
        if info.segment_base_offset != self._snapshot_segment:
            self._snapshot_segment = info.segment_base_offset
            self.write_producer_snapshot()
        self.log.high_watermark_to_log_end()
        return AppendResult(info.base_offset, info.last_offset, append_time, self.log.log_start_offset)
