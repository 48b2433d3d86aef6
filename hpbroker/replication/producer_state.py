"""Idempotent-producer state of one partition (Kafka's ProducerStateManager, simplified).

Per producer id we keep the current epoch and the last five appended batches (first/last
sequence and offsets): five is what clients keep in flight (max.in.flight <= 5), so a retry of
any batch still unacknowledged is recognised as a duplicate and answered with its original
offsets instead of being appended twice.

Rules (Kafka's ProducerAppendInfo.checkProducerEpoch / checkSequence):
- epoch older than the current one             -> INVALID_PRODUCER_EPOCH (47)
- epoch newer: the first batch must have sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER (45)
- same epoch: a batch equal to a cached one is a duplicate; otherwise base sequence must be
  last sequence + 1 (wrapping past INT32_MAX to 0), else 45
- unknown producer id (new, or state lost): any sequence is accepted

The state is rebuilt on start-up from the batch headers in the log (no snapshot file yet), so a
restart keeps fencing and duplicate detection.

Who may touch: the single writer of the partition (its owning handler), never readers.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

NUM_BATCHES_TO_RETAIN = 5
INT32_MAX = 0x7FFFFFFF

OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47


class ProducerStateError(Exception):
    def __init__(self, error_code: int, message: str):
        super().__init__(message)
        self.error_code = error_code


@dataclass(slots=True)
class BatchMetadata:
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    timestamp: int  # log append time (or -1) as answered to the producer


@dataclass
class ProducerStateEntry:
    producer_id: int
    epoch: int
    batches: deque = field(default_factory=lambda: deque(maxlen=NUM_BATCHES_TO_RETAIN))

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


def next_sequence(seq: int) -> int:
    return 0 if seq == INT32_MAX else seq + 1


class ProducerStateManager:
    def __init__(self) -> None:
        self.producers: dict[int, ProducerStateEntry] = {}

    def check(self, producer_id: int, epoch: int, first_seq: int, last_seq: int) -> BatchMetadata | None:
        """Validate a batch before append. Returns the cached batch if it is a duplicate."""
        entry = self.producers.get(producer_id)
        if entry is None:
            return None
        if epoch < entry.epoch:
            raise ProducerStateError(
                INVALID_PRODUCER_EPOCH,
                f"producer {producer_id} epoch {epoch} is older than current epoch {entry.epoch}",
            )
        if epoch > entry.epoch:
            if first_seq != 0:
                raise ProducerStateError(
                    OUT_OF_ORDER_SEQUENCE_NUMBER,
                    f"producer {producer_id} new epoch {epoch} must start at sequence 0, got {first_seq}",
                )
            return None
        for b in entry.batches:
            if b.first_seq == first_seq and b.last_seq == last_seq:
                return b
        if entry.batches and first_seq != next_sequence(entry.last_seq):
            raise ProducerStateError(
                OUT_OF_ORDER_SEQUENCE_NUMBER,
                f"producer {producer_id} out of order: expected sequence {next_sequence(entry.last_seq)}, got {first_seq}",
            )
        return None

    def update(self, producer_id: int, epoch: int, first_seq: int, last_seq: int,
               first_offset: int, last_offset: int, timestamp: int) -> None:
        entry = self.producers.get(producer_id)
        if entry is None or epoch != entry.epoch:
            entry = ProducerStateEntry(producer_id, epoch)
            self.producers[producer_id] = entry
        entry.batches.append(BatchMetadata(first_seq, last_seq, first_offset, last_offset, timestamp))

    def rebuild(self, headers) -> None:
        """Replay batch headers (hpbroker.records.layout.BatchHeader) from the log, oldest first."""
        self.producers.clear()
        for h in headers:
            if h.producer_id < 0 or h.is_control:
                continue
            ts = h.max_timestamp if h.log_append_time else -1
            self.update(h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence,
                        h.base_offset, h.last_offset, ts)

    def truncate(self) -> None:
        """Forget everything (after a log truncation the caller rebuilds from the log)."""
        self.producers.clear()
