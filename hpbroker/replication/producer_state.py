"""Idempotent and transactional producer state of one partition (Kafka's ProducerStateManager).

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
- a non-transactional batch of a producer with an open transaction -> INVALID_TXN_STATE (48)

Transactions. The first transactional batch of a producer opens its transaction at that
batch's base offset (``ongoing``: producer id -> first offset); a COMMIT or ABORT marker
(``complete_txn``) closes it and returns a ``CompletedTxn``. A marker may carry a newer epoch
than the producer's batches (the coordinator bumped it to fence a zombie): the producer's epoch
becomes the marker's and its batches are forgotten, so the fenced epoch's retries fail. A
marker with an older coordinator epoch than the last one seen is refused
(TRANSACTION_COORDINATOR_FENCED, 52). ``first_unstable_offset`` is the smallest first offset of
an open transaction: the last stable offset (LSO) cannot pass it.

Snapshots: the state is written to ``<partition dir>/<offset, 20 digits>.snapshot`` when the
log rolls a segment and when the broker closes the partition (Kafka does both), where
``offset`` is the log end offset the state covers. On start-up the newest snapshot at or below
the log end offset is loaded and only the batch headers from its offset on are replayed, so a
restart keeps fencing and duplicate detection without reading every header of the log. A
snapshot above the log end offset (the tail it covered was truncated: a torn write recovered)
describes batches that are gone and is deleted; one that does not parse is skipped. Without a
usable snapshot every header from the log start is replayed, as before.

Snapshot format (UTF-8 JSON, written to a temporary name and renamed into place):
    {"version": 1, "offset": N,
     "producers": [[producer_id, epoch, [[first_seq, last_seq, first_offset, last_offset,
                                          timestamp], ... up to 5, oldest first],
                    last_timestamp, current_txn_first_offset, coordinator_epoch], ...]}
``last_timestamp`` (the largest timestamp of the producer's last batch, what DescribeProducers
reports), ``current_txn_first_offset`` (-1: no open transaction) and ``coordinator_epoch`` (of
the last marker, -1: none) came later: a row without them reads them as -1, so older
snapshots still load. Open transactions survive a restart through them.

Who may touch: the single writer of the partition (its owning handler), never readers.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

NUM_BATCHES_TO_RETAIN = 5
SNAPSHOT_SUFFIX = ".snapshot"
SNAPSHOTS_KEPT = 2  # the newest two: the one before the latest roll survives a bad last write
INT32_MAX = 0x7FFFFFFF

OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
TRANSACTION_COORDINATOR_FENCED = 52


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
    last_timestamp: int = -1  # max timestamp of the last batch (Kafka's lastTimestamp)
    current_txn_first_offset: int = -1  # first offset of its open transaction, -1: none
    coordinator_epoch: int = -1  # of the last marker written for it

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


def next_sequence(seq: int) -> int:
    return 0 if seq == INT32_MAX else seq + 1


@dataclass(slots=True, frozen=True)
class CompletedTxn:
    producer_id: int
    first_offset: int
    last_offset: int  # the marker's offset
    is_aborted: bool


class ProducerStateManager:
    def __init__(self) -> None:
        self.producers: dict[int, ProducerStateEntry] = {}
        #: producer id -> first offset of its open transaction
        self.ongoing: dict[int, int] = {}

    def first_unstable_offset(self) -> int | None:
        """The smallest first offset of an open transaction (None: none is open)."""
        return min(self.ongoing.values()) if self.ongoing else None

    def check(
        self, producer_id: int, epoch: int, first_seq: int, last_seq: int, transactional: bool = False
    ) -> BatchMetadata | None:
        """Validate a batch before append. Returns the cached batch if it is a duplicate."""
        entry = self.producers.get(producer_id)
        if entry is None:
            return None
        if not transactional and entry.current_txn_first_offset >= 0:
            raise ProducerStateError(
                INVALID_TXN_STATE, f"producer {producer_id} sent a non-transactional batch inside a transaction"
            )
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

    def update(
        self,
        producer_id: int,
        epoch: int,
        first_seq: int,
        last_seq: int,
        first_offset: int,
        last_offset: int,
        timestamp: int,
        max_timestamp: int = -1,
        transactional: bool = False,
    ) -> None:
        entry = self.producers.get(producer_id)
        if entry is None or epoch != entry.epoch:
            old = entry
            entry = ProducerStateEntry(producer_id, epoch)
            if old is not None:  # an open transaction stays open until its marker
                entry.current_txn_first_offset = old.current_txn_first_offset
                entry.coordinator_epoch = old.coordinator_epoch
            self.producers[producer_id] = entry
        entry.batches.append(BatchMetadata(first_seq, last_seq, first_offset, last_offset, timestamp))
        entry.last_timestamp = max_timestamp
        if transactional and entry.current_txn_first_offset < 0:
            entry.current_txn_first_offset = first_offset
            self.ongoing[producer_id] = first_offset

    def check_marker(self, producer_id: int, epoch: int, coordinator_epoch: int) -> None:
        """May the coordinator write a marker for this producer (before its append)?"""
        entry = self.producers.get(producer_id)
        if entry is None:
            return
        if epoch < entry.epoch:
            raise ProducerStateError(
                INVALID_PRODUCER_EPOCH,
                f"marker for producer {producer_id} at epoch {epoch}, older than its epoch {entry.epoch}",
            )
        if coordinator_epoch < entry.coordinator_epoch:
            raise ProducerStateError(
                TRANSACTION_COORDINATOR_FENCED,
                f"marker for producer {producer_id} from coordinator epoch {coordinator_epoch}, "
                f"older than {entry.coordinator_epoch}",
            )

    def complete_txn(
        self, producer_id: int, epoch: int, marker_offset: int, is_commit: bool, coordinator_epoch: int, timestamp: int
    ) -> CompletedTxn | None:
        """A marker was appended at ``marker_offset``: the producer's open transaction (if it
        had one) is complete."""
        entry = self.producers.get(producer_id)
        if entry is None:
            entry = ProducerStateEntry(producer_id, epoch)
            self.producers[producer_id] = entry
        elif epoch > entry.epoch:
            fresh = ProducerStateEntry(producer_id, epoch)
            fresh.current_txn_first_offset = entry.current_txn_first_offset
            self.producers[producer_id] = entry = fresh
        entry.coordinator_epoch = max(entry.coordinator_epoch, coordinator_epoch)
        entry.last_timestamp = timestamp
        first = entry.current_txn_first_offset
        entry.current_txn_first_offset = -1
        self.ongoing.pop(producer_id, None)
        if first < 0:
            return None
        return CompletedTxn(producer_id, first, marker_offset, not is_commit)

    def rebuild(self, headers) -> None:
        """Replay batch headers (hpbroker.records.layout.BatchHeader) from the log, oldest first."""
        self.producers.clear()
        self.ongoing.clear()
        self.replay(headers)

    def replay(self, headers) -> None:
        """Apply batch headers on top of the current state (after a snapshot), oldest first. A
        marker closes its producer's transaction whatever its type (aborted ones are in the
        .txnindex files already)."""
        for h in headers:
            if h.producer_id < 0:
                continue
            if h.is_control:
                self.complete_txn(h.producer_id, h.producer_epoch, h.base_offset, True, -1, h.max_timestamp)
                continue
            ts = h.max_timestamp if h.log_append_time else -1
            self.update(
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.last_sequence,
                h.base_offset,
                h.last_offset,
                ts,
                h.max_timestamp,
                h.is_transactional,
            )

    def truncate(self) -> None:
        """Forget everything (after a log truncation the caller rebuilds from the log)."""
        self.producers.clear()
        self.ongoing.clear()

    # -- snapshots ----------------------------------------------------------------------------
    def to_bytes(self, offset: int) -> bytes:
        producers = [
            [
                e.producer_id,
                e.epoch,
                [[b.first_seq, b.last_seq, b.first_offset, b.last_offset, b.timestamp] for b in e.batches],
                e.last_timestamp,
                e.current_txn_first_offset,
                e.coordinator_epoch,
            ]
            for e in self.producers.values()
        ]
        return json.dumps({"version": 1, "offset": offset, "producers": producers}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> tuple[int, ProducerStateManager]:
        """(offset, state) of a snapshot; ValueError if it is not one."""
        try:
            doc = json.loads(data)
            if doc.get("version") != 1:
                raise ValueError(f"snapshot version {doc.get('version')!r}")
            manager = cls()
            for row in doc["producers"]:
                pid, epoch, batches = row[:3]
                last_ts = int(row[3]) if len(row) > 3 else -1
                entry = ProducerStateEntry(int(pid), int(epoch), last_timestamp=last_ts)
                entry.current_txn_first_offset = int(row[4]) if len(row) > 4 else -1
                entry.coordinator_epoch = int(row[5]) if len(row) > 5 else -1
                for fs, ls, fo, lo, ts in batches:
                    entry.batches.append(BatchMetadata(int(fs), int(ls), int(fo), int(lo), int(ts)))
                manager.producers[entry.producer_id] = entry
                if entry.current_txn_first_offset >= 0:
                    manager.ongoing[entry.producer_id] = entry.current_txn_first_offset
            return int(doc["offset"]), manager
        except (AttributeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a producer state snapshot: {exc}") from None

    def write_snapshot(self, directory: str, offset: int) -> str:
        """Write the state as covering offsets below ``offset``; keep the newest SNAPSHOTS_KEPT."""
        path = os.path.join(directory, f"{offset:020d}{SNAPSHOT_SUFFIX}")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(self.to_bytes(offset))
        os.replace(tmp, path)  # a crash leaves the old snapshot or the new one, never half of one
        for old in snapshot_offsets(directory)[:-SNAPSHOTS_KEPT]:
            _remove(os.path.join(directory, f"{old:020d}{SNAPSHOT_SUFFIX}"))
        return path

    def load_snapshot(self, directory: str, log_end_offset: int) -> int | None:
        """Take the state of the newest usable snapshot; the offset to replay headers from, or
        None when there is none (replay everything)."""
        for offset in reversed(snapshot_offsets(directory)):
            path = os.path.join(directory, f"{offset:020d}{SNAPSHOT_SUFFIX}")
            if offset > log_end_offset:
                log.info("%s: deleting a producer snapshot above the log end offset %d", path, log_end_offset)
                _remove(path)
                continue
            try:
                with open(path, "rb") as f:
                    at, state = self.from_bytes(f.read())
            except (OSError, ValueError) as exc:
                log.warning("%s: skipping producer snapshot: %s", path, exc)
                continue
            if at != offset:
                log.warning("%s: skipping producer snapshot that says offset %d", path, at)
                continue
            self.producers = state.producers
            self.ongoing = state.ongoing
            return offset
        return None


def snapshot_offsets(directory: str) -> list[int]:
    """Offsets of the snapshot files in ``directory``, ascending."""
    out = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return out
    for name in names:
        stem = name[: -len(SNAPSHOT_SUFFIX)]
        if name.endswith(SNAPSHOT_SUFFIX) and len(stem) == 20 and stem.isdigit():
            out.append(int(stem))
    return sorted(out)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
