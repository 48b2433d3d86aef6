"""PartitionLog: the log of one partition, ``<log.dirs>/<topic>-<partition>/``.

Theory of operation. The log is a list of segments ordered by base offset; the last one is
active and the only one appended to. ``append`` stamps offsets into the producer's batch in
place (baseOffset = log_end_offset, partitionLeaderEpoch), writes it to the page cache and
indexes it; reads hand out file regions for ``os.sendfile`` (the walk over segments is in
read.py, shared with the readers of other processes). Durability follows Kafka: the page cache
survives a process kill; ``flush.messages``/``flush.ms`` add fsyncs; the recovery point (fsynced
prefix) bounds how much an unclean restart must scan (recovery.py).

Multi-process contract (DESIGN.md section 2):
- Exactly one process, and in it one thread at a time, owns a PartitionLog for a directory: the
  handler that owns the partition. Nothing here takes a lock; the owner serialises calls.
- Other processes read through ``PartitionLogReader`` (reader.py), which opens the files
  read-only and reads only below an upper bound (an offset) the writer published *after* the
  batches below it were written and indexed. Bytes past the bound may be a batch being written.
- Retention unlinks segment files at once; descriptors already open (a reader's segments, a
  FileRegion not yet sent) keep the bytes readable until closed, so no ``.deleted`` rename and
  ``file.delete.delay.ms`` is not needed.
- ``truncate_to`` (replication) rewrites the tail: the owner must first lower the published
  bound below the truncation offset.

Checkpoint ``partition.checkpoint`` (checkpoint.py) holds log_start_offset, recovery_point and
high_watermark; it is written on flush, close, log start offset moves and truncation. The leader
epoch cache (``leader-epoch-checkpoint``, leader_epoch.py) follows the log: cut with it on
truncation and recovery, moved with its start; rebuilt from the batch headers when missing.
"""

from __future__ import annotations

import bisect
import os
import shutil
import time
from collections.abc import Callable
from typing import NamedTuple

from hpbroker.records import batch
from hpbroker.records.layout import BatchHeader, InvalidRecordBatch
from hpbroker.storage.checkpoint import read_checkpoint, write_checkpoint
from hpbroker.storage.config import LogConfig
from hpbroker.storage.errors import OffsetOutOfRange
from hpbroker.storage.leader_epoch import LeaderEpochFileCache
from hpbroker.storage.read import ReadResult, read_segments
from hpbroker.storage.recovery import consume_clean_marker, load_segments, open_sealed, write_clean_marker
from hpbroker.storage.segment import Segment
from hpbroker.storage.txn_index import AbortedTxn, collect_aborted

CHECKPOINT_FILE = "partition.checkpoint"
# Kafka rolls before a relative offset would overflow the 4-byte index field
_MAX_RELATIVE_OFFSET = 0x7FFFFFFF


def now_ms() -> int:
    return int(time.time() * 1000)


class AppendInfo(NamedTuple):
    # a NamedTuple, built once per appended batch: much cheaper to build than a frozen dataclass
    base_offset: int
    last_offset: int
    log_append_time: int  # -1 when the batch keeps CreateTime
    max_timestamp: int
    log_start_offset: int
    position: int  # of the batch in its segment file
    segment_base_offset: int
    size: int  # bytes appended
    records_count: int


class PartitionLog:
    """One partition's log. Owner: the partition's single writer thread (see module doc)."""

    def __init__(self, directory: str, config: LogConfig | None = None, topic_partition=None):
        self.directory = os.path.abspath(directory)
        self.config = config or LogConfig()
        self.topic_partition = topic_partition
        #: observer(microseconds) after each flush that fsynced segments (LogManager sets it)
        self.flush_observer = None
        os.makedirs(self.directory, exist_ok=True)
        cp = read_checkpoint(os.path.join(self.directory, CHECKPOINT_FILE))
        self.was_clean = consume_clean_marker(self.directory)
        rp = cp.get("recovery_point", 0)
        self._segments: list[Segment] = load_segments(
            self.directory, self.config, clean=self.was_clean, recovery_point=rp
        )
        lso = cp.get("log_start_offset", 0)
        if not self._segments:
            self._segments = [Segment(self.directory, lso, self.config, active=True)]
        self._bases = [s.base_offset for s in self._segments]
        self._log_end_offset = self.active.next_offset
        self._log_start_offset = min(max(lso, self._segments[0].base_offset), self._log_end_offset)
        self._recovery_point = max(self._log_start_offset, min(rp, self._log_end_offset))
        self._high_watermark = 0
        self.high_watermark = cp.get("high_watermark", 0)
        #: where the log cleaner's next pass starts: below it, each key is there once at most
        #: (storage/cleaner.py); kept in the checkpoint
        self.cleaner_offset = cp.get("cleaner_offset", 0)
        self._unflushed_messages = 0
        self._last_flush_ms = now_ms()
        self._closed = False
        self.leader_epoch_cache = self._load_leader_epoch_cache()
        #: () -> the first offset of a transaction not complete yet (None: none), set by the
        #: partition holding this log: the log cleaner cleans nothing at or past it
        self.stable_bound: Callable[[], int | None] | None = None

    def _load_leader_epoch_cache(self) -> LeaderEpochFileCache:
        cache = LeaderEpochFileCache.load(self.directory)
        if cache is None:
            cache = LeaderEpochFileCache(self.directory)
            for h in self.iter_batch_headers(self._log_start_offset):
                if h.partition_leader_epoch > cache.latest_epoch:
                    cache.assign(h.partition_leader_epoch, max(h.base_offset, self._log_start_offset))
        cache.truncate_from_end(self._log_end_offset)  # recovery may have cut the tail
        cache.truncate_from_start(self._log_start_offset)
        return cache

    @classmethod
    def open(cls, directory: str, config: LogConfig | None = None, topic_partition=None) -> PartitionLog:
        return cls(directory, config, topic_partition)

    # -- state ------------------------------------------------------------------------------------
    @property
    def active(self) -> Segment:
        return self._segments[-1]

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Read-only view, oldest first (do not call mutating Segment methods)."""
        return tuple(self._segments)

    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self._log_end_offset

    @property
    def recovery_point(self) -> int:
        return self._recovery_point

    @property
    def high_watermark(self) -> int:
        return self._high_watermark

    @high_watermark.setter
    def high_watermark(self, value: int) -> None:
        self._high_watermark = min(max(int(value), self._log_start_offset), self._log_end_offset)

    def high_watermark_to_log_end(self) -> None:
        """Everything appended is committed (a single replica: the leader is the whole ISR)."""
        self._high_watermark = self._log_end_offset

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    def _write_checkpoint(self) -> None:
        values = {
            "log_start_offset": self._log_start_offset,
            "recovery_point": self._recovery_point,
            "high_watermark": self._high_watermark,
        }
        if self.cleaner_offset:  # only logs the cleaner has been through
            values["cleaner_offset"] = self.cleaner_offset
        write_checkpoint(os.path.join(self.directory, CHECKPOINT_FILE), values)

    def save_checkpoint(self) -> None:
        self._write_checkpoint()

    def replace_segments(self, old: list[Segment], new_bases: list[int]) -> None:
        """The log cleaner moved its files in (storage/swap.py): the consecutive sealed segments
        ``old`` are now the segments ``new_bases``. The old Segment objects are closed, never
        deleted: their paths name the new files now (regions handed out keep the old ones)."""
        i = next(k for k, s in enumerate(self._segments) if s is old[0])
        j = i + len(old)
        if j >= len(self._segments) or self._segments[i:j] != list(old):
            raise ValueError("replace_segments: not consecutive sealed segments of this log")
        next_bases = new_bases[1:] + [self._bases[j]]
        new = [open_sealed(self.directory, b, nb, self.config) for b, nb in zip(new_bases, next_bases)]
        for seg in old:
            seg.close()
        self._segments[i:j] = new
        self._bases[i:j] = list(new_bases)

    # -- append ----------------------------------------------------------------------------------
    def append(
        self, buf, *, leader_epoch: int = 0, log_append_time: int | None = None, header: BatchHeader | None = None
    ) -> AppendInfo:
        """Append ONE validated batch (writable buffer), assigning offsets from log_end_offset.
        ``header``: the batch's header as ``validate`` returned it, if the caller has it."""
        h = batch.read_header(buf) if header is None else header
        size = len(buf)
        if h.size != size:
            raise InvalidRecordBatch(87, f"buffer holds {size} bytes, batch says {h.size}")
        base = self._log_end_offset
        last = base + h.last_offset_delta
        batch.patch(buf, 0, base, leader_epoch)
        if log_append_time is not None:
            batch.set_log_append_time(buf, 0, log_append_time)
            max_ts = log_append_time
        else:
            max_ts = h.max_timestamp
        self._maybe_roll(size, max_ts, last)
        seg = self.active
        pos = seg.append(buf, base, last, max_ts)
        self._log_end_offset = last + 1
        self._unflushed_messages += h.records_count
        fm = self.config.flush_messages
        if fm is not None and self._unflushed_messages >= fm:
            self.flush()
        return AppendInfo(
            base,
            last,
            -1 if log_append_time is None else log_append_time,
            max_ts,
            self._log_start_offset,
            pos,
            seg.base_offset,
            size,
            h.records_count,
        )

    def append_batches(self, buf) -> list[tuple[int, int]]:
        """Append batches that already carry offsets (follower fetch, recovery tools).

        Every batch must pass length/magic/CRC and the offsets must increase from at least
        log_end_offset. Returns [(base_offset, last_offset), ...].
        """
        mv = memoryview(buf)
        end, found = batch.scan(mv, 0, len(mv), True)
        if end != len(mv):
            raise InvalidRecordBatch(2, f"invalid batch at byte {end} of {len(mv)}")
        prev = self._log_end_offset - 1
        for _, base, last, _, _ in found:
            if base <= prev or last < base:
                raise InvalidRecordBatch(87, f"batch offsets {base}..{last} do not follow {prev}")
            prev = last
        out = []
        count = 0
        for pos, base, last, max_ts, size in found:
            self._maybe_roll(size, max_ts, last)
            self.active.append(mv[pos : pos + size], base, last, max_ts)
            self._log_end_offset = last + 1
            count += last - base + 1
            out.append((base, last))
        self._unflushed_messages += count
        fm = self.config.flush_messages
        if fm is not None and self._unflushed_messages >= fm:
            self.flush()
        return out

    def _maybe_roll(self, size: int, max_timestamp: int, last_offset: int) -> None:
        seg = self.active
        if seg.size == 0:
            return
        cfg = self.config
        if (
            seg.size + size > cfg.segment_bytes
            or not seg.can_index_more()
            or last_offset - seg.base_offset > _MAX_RELATIVE_OFFSET
            or (seg.first_batch_timestamp is not None and max_timestamp - seg.first_batch_timestamp > cfg.segment_ms)
        ):
            self.roll()

    def roll(self) -> Segment:
        """Seal the active segment and start a new one at log_end_offset (no-op if empty)."""
        seg = self.active
        if seg.size == 0:
            return seg
        seg.seal()
        new = Segment(self.directory, self._log_end_offset, self.config, active=True)
        self._segments.append(new)
        self._bases.append(new.base_offset)
        return new

    # -- read -----------------------------------------------------------------------------------
    def _segment_index(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self._bases, offset) - 1)

    def read(
        self, fetch_offset: int, max_bytes: int, *, upper_bound: int | None = None, min_one_batch: bool = True
    ) -> ReadResult:
        """Whole batches from the one holding ``fetch_offset``, below ``upper_bound`` (an offset,
        default the high watermark), within ``max_bytes`` except that the first batch is
        returned whole when ``min_one_batch`` (KIP-74). No record bytes are copied."""
        leo = self._log_end_offset
        if fetch_offset < self._log_start_offset or fetch_offset > leo:
            raise OffsetOutOfRange(fetch_offset, self._log_start_offset, leo)
        ub = self._high_watermark if upper_bound is None else min(upper_bound, leo)
        result = ReadResult(
            first_offset=fetch_offset,
            log_start_offset=self._log_start_offset,
            log_end_offset=leo,
            high_watermark=self._high_watermark,
        )
        if fetch_offset < ub:
            read_segments(
                result, self._segments, self._bases, fetch_offset, max_bytes, ub, min_one_batch, self._bound_position
            )
        return result

    def _bound_position(self, i: int, seg: Segment, upper_bound: int) -> int:
        """Where ``upper_bound`` cuts segment ``i``: the writer knows each segment's end."""
        if upper_bound >= seg.next_offset or i + 1 < len(self._bases) and upper_bound >= self._bases[i + 1]:
            return seg.size
        return seg.translate(upper_bound, seg.size)[0]

    def read_bytes(self, fetch_offset: int, max_bytes: int, **kw) -> bytes:
        return self.read(fetch_offset, max_bytes, **kw).read_bytes()

    def aborted_transactions(self, fetch_offset: int, upper_bound: int) -> list[AbortedTxn]:
        """The aborted transactions overlapping [fetch_offset, upper_bound) (txn_index.py)."""
        return collect_aborted(self._segments, self._bases, fetch_offset, upper_bound)

    def append_aborted_txn(self, txn: AbortedTxn, marker_offset: int | None = None) -> None:
        """Index an aborted transaction whose ABORT marker was just appended (it is in the
        active segment), or, with ``marker_offset``, one found again in the segment holding it."""
        seg = self.active if marker_offset is None else self._segments[self._segment_index(marker_offset)]
        seg.txn_index.append(txn)

    def iter_batch_headers(self, start_offset: int = 0):
        """Every batch header from the one holding ``start_offset`` (61 bytes read per batch)."""
        for i in range(self._segment_index(start_offset), len(self._segments)):
            seg = self._segments[i]
            pos, h = seg.translate(start_offset, seg.size)
            if h is None:
                continue
            for _, hh in seg.iter_headers(pos):
                yield hh

    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record with timestamp >= ``timestamp`` at or after
        log_start_offset (ListOffsets); None if there is none. -1/-2 are the caller's."""
        for seg in self._segments:
            if seg.max_timestamp >= timestamp and seg.next_offset > self._log_start_offset:
                found = seg.find_offset_by_timestamp(timestamp, self._log_start_offset)
                if found is not None:
                    return found
        return None

    def offset_of_max_timestamp(self) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record with the highest timestamp at or after
        log_start_offset (ListOffsets MAX_TIMESTAMP, KIP-734); None if there is no record. Each
        segment knows its own largest timestamp; the batch headers are walked only in a segment
        whose head was deleted (DeleteRecords), whose largest timestamp may have gone with it."""
        start = self._log_start_offset
        best_ts, best_seg = -1, None
        for seg in self._segments:
            if seg.next_offset <= start:
                continue
            ts = seg.max_timestamp
            if seg.base_offset < start:
                pos, _ = seg.translate(start, seg.size)
                ts = max((h.max_timestamp for _, h in seg.iter_headers(pos)), default=-1)
            if ts > best_ts:  # strictly: on a tie the earlier segment holds the first such record
                best_ts, best_seg = ts, seg
        if best_seg is None:
            return None
        return best_seg.find_offset_by_timestamp(best_ts, start)

    # -- truncation, retention ------------------------------------------------------------------
    def _delete_segment(self, seg: Segment) -> None:
        seg.delete()

    def truncate_to(self, offset: int) -> None:
        """Drop every batch whose last offset is >= ``offset`` (follower truncation)."""
        if offset < 0:
            raise ValueError(f"cannot truncate to negative offset {offset}")
        if offset >= self._log_end_offset:
            return
        if offset < self._log_start_offset:
            self.truncate_fully_and_start_at(offset)
            return
        while len(self._segments) > 1 and self._segments[-1].base_offset >= offset:
            self._delete_segment(self._segments.pop())
            self._bases.pop()
        seg = self.active
        seg.activate()  # a sealed segment may have become the active one again
        seg.truncate_to(offset)
        self._log_end_offset = seg.next_offset
        self._log_start_offset = min(self._log_start_offset, self._log_end_offset)
        self._recovery_point = min(self._recovery_point, self._log_end_offset)
        self._high_watermark = min(self._high_watermark, self._log_end_offset)
        self._write_checkpoint()
        self.leader_epoch_cache.truncate_from_end(self._log_end_offset)

    def truncate_fully_and_start_at(self, offset: int) -> None:
        for seg in self._segments:
            self._delete_segment(seg)
        self._segments = [Segment(self.directory, offset, self.config, active=True)]
        self._bases = [offset]
        self._log_start_offset = self._log_end_offset = self._recovery_point = offset
        self._high_watermark = offset
        self._write_checkpoint()
        self.leader_epoch_cache.clear()

    def advance_log_start_offset(self, offset: int) -> bool:
        """DeleteRecords: raise log_start_offset (never past log_end_offset), delete the segments
        wholly below it, persist it. Returns False if ``offset`` was not above it."""
        if offset > self._log_end_offset:
            raise OffsetOutOfRange(offset, self._log_start_offset, self._log_end_offset)
        if offset <= self._log_start_offset:
            return False
        self._log_start_offset = offset
        self._after_start_moved()
        self._delete_segments_below_start()
        self._write_checkpoint()
        return True

    def _after_start_moved(self) -> None:
        self._high_watermark = max(self._high_watermark, self._log_start_offset)
        self._recovery_point = max(self._recovery_point, self._log_start_offset)
        self.leader_epoch_cache.truncate_from_start(self._log_start_offset)

    def _delete_segments_below_start(self) -> int:
        n = 0
        while len(self._segments) > 1 and self._bases[1] <= self._log_start_offset:
            self._delete_segment(self._segments.pop(0))
            self._bases.pop(0)
            n += 1
        return n

    def delete_old_segments(self, now_ms_: int | None = None) -> int:
        """Retention by time and size (cleanup.policy with "delete" only) plus segments below
        log_start_offset; never the active segment. Returns how many segments were deleted."""
        now = now_ms() if now_ms_ is None else now_ms_
        cfg = self.config
        n = self._delete_segments_below_start()
        if cfg.cleanup_delete:
            n += self._delete_past_retention(now)
        if n:
            self._write_checkpoint()
        return n

    def _delete_past_retention(self, now: int) -> int:
        cfg = self.config
        n = 0
        if cfg.retention_ms >= 0:
            while len(self._segments) > 1 and now - self._segments[0].largest_timestamp() > cfg.retention_ms:
                self._pop_oldest()
                n += 1
        if cfg.retention_bytes >= 0:
            diff = self.size_bytes - cfg.retention_bytes
            while len(self._segments) > 1 and diff - self._segments[0].size >= 0:
                diff -= self._segments[0].size
                self._pop_oldest()
                n += 1
        return n

    def _pop_oldest(self) -> None:
        self._delete_segment(self._segments.pop(0))
        self._bases.pop(0)
        if self._bases[0] > self._log_start_offset:
            self._log_start_offset = self._bases[0]
            self._after_start_moved()

    # -- durability ------------------------------------------------------------------------------
    def flush(self, up_to: int | None = None) -> None:
        """fsync segments holding offsets below ``up_to`` (default log_end_offset), then move the
        recovery point there and write the checkpoint."""
        target = self._log_end_offset if up_to is None else min(up_to, self._log_end_offset)
        if target > self._recovery_point:
            started = time.monotonic_ns()
            for i, seg in enumerate(self._segments):
                seg_end = self._bases[i + 1] if i + 1 < len(self._bases) else self._log_end_offset
                if seg.base_offset < target and seg_end > self._recovery_point:
                    seg.flush()
            self._recovery_point = target
            if self.flush_observer is not None:
                self.flush_observer((time.monotonic_ns() - started) // 1000)
        if target == self._log_end_offset:
            self._unflushed_messages = 0
        self._last_flush_ms = now_ms()
        self._write_checkpoint()

    def maybe_flush(self, now_ms_: int | None = None) -> bool:
        """The flush policy (flush.messages, flush.ms), plus fsync of rolled segments so the
        recovery point keeps up with rolls as Kafka's roll-time flush does. True if it flushed."""
        now = now_ms() if now_ms_ is None else now_ms_
        cfg = self.config
        if (cfg.flush_messages is not None and self._unflushed_messages >= cfg.flush_messages) or (
            cfg.flush_ms is not None and self._unflushed_messages and now - self._last_flush_ms >= cfg.flush_ms
        ):
            self.flush()
            return True
        if self.active.base_offset > self._recovery_point:
            self.flush(self.active.base_offset)
            return True
        return False

    def close(self) -> None:
        """Clean shutdown: fsync, trim indexes, checkpoint, then the clean-shutdown marker."""
        if self._closed:
            return
        self.flush()
        self.active.index.trim()
        self.active.time_index.trim()
        for seg in self._segments:
            seg.close()
        write_clean_marker(self.directory)
        self._closed = True

    def delete(self) -> None:
        """Remove the partition directory (open FileRegions stay readable)."""
        for seg in self._segments:
            seg.close()
        self._closed = True
        shutil.rmtree(self.directory, ignore_errors=True)

    def __repr__(self) -> str:
        return (
            f"PartitionLog({self.directory!r}, log_start_offset={self._log_start_offset}, "
            f"log_end_offset={self._log_end_offset}, segments={len(self._segments)})"
        )
