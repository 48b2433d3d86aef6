"""The log cleaner: compaction of partitions whose cleanup.policy includes "compact".

Theory of operation (Kafka's LogCleaner; one pass over one partition at a time; the active
segment is never touched). A pass has three steps: ``plan`` and ``install`` run on the
partition owner's thread (its event loop, from the maintenance timer), ``build`` on the
owner's cleaner thread, while appends go on (``clean_log`` runs all three in a row).

- ``PartitionLog.cleaner_offset`` (kept in the partition checkpoint) splits the log: below it,
  what earlier passes cleaned (each key there once at most); from it to the cleanable end, the
  dirty part. The cleanable end is the active segment's base offset, moved back to the first
  segment holding a record younger than min.compaction.lag.ms.
- A pass is due when the dirty bytes are at least min.cleanable.dirty.ratio of the cleanable
  bytes, or when the oldest dirty segment is older than max.compaction.lag.ms (``dirtiness``).
- Offset map: the dirty segments, oldest first and at most PASS_DIRTY_BYTES of them (at least
  one), are walked record by record in Cython (``batch.record_keys``): key -> its last offset.
  The map holds the keys themselves (exact, unlike Kafka's fixed-size map of key hashes).
- Cleaning: every segment from the first to the mapped end is rewritten, consecutive segments
  merged into one while the originals sum to at most segment.bytes (and the index files would
  fit); a new segment left empty is dropped, unless it is the first (the log start stays). A record stays unless the map names a later offset for its key, it has no key, or it is
  a tombstone (null value) in a segment whose largest timestamp is older than
  delete.retention.ms. A batch keeping all its records is copied as it is; one keeping some is
  rebuilt with the same base offset, lastOffsetDelta, producer fields and codec (``batch.
  retain_records``, ``builder.rebuild_batch``); one keeping none is dropped, unless it is the
  last batch of its producer id in the log (it then stays whole, so an idempotent producer's
  sequence survives a restart without a snapshot, as Kafka keeps it). Offsets never change:
  a consumer reading across a gap gets the next batch that is there.
- Transactions (Kafka's rules): the cleanable end never passes the first offset of a
  transaction not complete and replicated yet (``PartitionLog.stable_bound``, set by its
  Partition), so no open transaction is cleaned; the records of aborted transactions (the
  .txnindex entries, looked up per batch header) are neither mapped nor kept; markers are
  kept whole.
- Threads: ``plan`` captures each segment it will read as a ``_SegmentView`` (an open
  descriptor, the size then): ``build`` reads only through those, so retention unlinking a
  segment meanwhile changes nothing for it, and bytes appended after the plan are never read.
  ``install`` first checks that the log still holds exactly the segments the pass read (same
  objects, same sizes); if retention, DeleteRecords or a topic deletion changed them, the
  pass's work is dropped. ``CleanPass.cancelled`` stops a build at its next batch (shutdown).
- Files: the new segments are written into ``cleaning/`` and swapped in by storage/swap.py
  (crash-safe; a pass cut short is dropped or finished when the partition is opened).
  ``around_swap`` brackets the file moves, so the owner can tell readers in other processes
  (the partition table's rewrite counter, server/multiproc/partition_table.py); readers in this
  process run on the same thread as the pass, and regions they handed out keep the old files open.

Cost: a pass reads and rewrites the whole cleanable log (the clean part too), per batch in
Python and per record in Cython, on the cleaner thread: the owner's loop shares the GIL with it
meanwhile but is never held for the whole pass. Dirty bytes per pass are bounded, and nothing
is done for a partition whose dirty part is below its ratio.

Who may touch: ``plan`` and ``install``, the partition's single writer (the thread of its
appends); ``build``, any one thread at a time per pass.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import shutil
import time
from dataclasses import dataclass

from hpbroker.records import batch
from hpbroker.records.builder import rebuild_batch
from hpbroker.records.compression import decompressed_view
from hpbroker.records.layout import RECORD_BATCH_OVERHEAD
from hpbroker.storage import swap
from hpbroker.storage.config import LogConfig
from hpbroker.storage.segment import FileHandle, Segment

log = logging.getLogger(__name__)

PASS_DIRTY_BYTES = 64 << 20  # dirty bytes mapped per pass (Kafka bounds it by its map's memory)
YIELD_EVERY_S = 0.002  # a build hands the GIL back at least this often
_INDEX_ENTRY, _TIME_ENTRY = 8, 12


@dataclass
class CleanResult:
    first_offset: int  # the cleaned range: [first_offset, end_offset)
    end_offset: int
    bytes_before: int
    bytes_after: int
    batches_dropped: int
    records_dropped: int
    records_before: int
    segments_before: int
    segments_after: int


def cleanable_range(plog, now: int) -> tuple[int, int, list[Segment]]:
    """(first dirty offset, cleanable end offset, the segments below that end)."""
    all_segments = plog.segments
    segments = list(all_segments[:-1])  # never the active one
    lag = plog.config.min_compaction_lag_ms
    if lag > 0:
        for i, seg in enumerate(segments):
            if now - seg.largest_timestamp() < lag:
                segments = segments[:i]
                break
    stable = plog.stable_bound() if plog.stable_bound is not None else None
    if stable is not None:  # no segment holding an offset at or past an unfinished transaction
        while segments and all_segments[len(segments)].base_offset > stable:
            segments.pop()
    end = all_segments[len(segments)].base_offset
    first_dirty = min(max(plog.cleaner_offset, plog.log_start_offset), end)
    return first_dirty, end, segments


def dirtiness(plog, now: int) -> float | None:
    """How dirty the cleanable part is (dirty bytes / cleanable bytes), or None when no pass is
    due: nothing dirty, below min.cleanable.dirty.ratio and not past max.compaction.lag.ms."""
    first_dirty, end, segments = cleanable_range(plog, now)
    if first_dirty >= end:
        return None
    total = sum(s.size for s in segments)
    dirty = sum(s.size for s in segments if s.base_offset >= first_dirty)
    if not total or not dirty:
        return None
    ratio = dirty / total
    if ratio >= plog.config.min_cleanable_dirty_ratio:
        return ratio
    oldest = next(s for s in segments if s.base_offset >= first_dirty)
    if now - oldest.largest_timestamp() > plog.config.max_compaction_lag_ms:
        return ratio
    return None


def _records(mv, pos: int, h):
    """(view, position of the first record) of the batch at ``pos`` of a mapped segment: its
    bytes in the mapping (no copy), or the decompressed payload (a scratch view, valid until the
    next decompression). The caller releases the view (``with``) before the mapping closes."""
    if not h.compression:
        return mv[pos : pos + h.size], RECORD_BATCH_OVERHEAD
    with mv[pos + RECORD_BATCH_OVERHEAD : pos + h.size] as payload:
        return decompressed_view(h.compression, payload), 0


def _keep_whole(out: Segment, mv, pos: int, h) -> None:
    """The batch goes to the new segment as it is, straight from the mapping."""
    with mv[pos : pos + h.size] as whole:
        out.append(whole, h.base_offset, h.last_offset, h.max_timestamp)


@dataclass(frozen=True)
class _SegmentView:
    """What a pass reads of one segment, taken on the owner's thread: an open descriptor (kept
    open by the reference, whatever retention does meanwhile) and the bytes that were there."""

    base_offset: int
    handle: FileHandle
    size: int
    largest_timestamp: int
    index_bytes: int
    time_index_bytes: int
    next_offset: int

    @classmethod
    def of(cls, seg: Segment) -> _SegmentView:
        return cls(
            seg.base_offset,
            seg.handle,
            seg.size,
            seg.largest_timestamp(),
            seg.index.entries * _INDEX_ENTRY,
            seg.time_index.entries * _TIME_ENTRY,
            seg.next_offset,
        )

    def headers(self, mv):
        pos = 0
        while pos + RECORD_BATCH_OVERHEAD <= self.size:
            h = batch.read_header(mv, pos)
            if h.size <= 0 or pos + h.size > self.size:
                return
            yield pos, h
            pos += h.size


@contextlib.contextmanager
def _mapped(view: _SegmentView):
    """A read-only memoryview of the segment's bytes as planned (batches are sliced from it,
    never copied to be read)."""
    with mmap.mmap(view.handle.fd, view.size, access=mmap.ACCESS_READ) as mm, memoryview(mm) as mv:
        yield mv


@dataclass
class CleanPass:
    """A pass planned on the owner's thread (``plan``), built on any thread (``build``) and
    installed on the owner's thread again (``install``), which first checks that the log still
    holds the segments the pass read."""

    directory: str
    config: LogConfig
    now: int
    mapped: list  # [_SegmentView] of the dirty segments whose keys are mapped
    groups: list  # [[_SegmentView]]: the segments rewritten, each group into one new segment
    end_offset: int  # the mapped end: cleaner_offset after the pass
    first_is_log_start: bool  # the first group starts the log (kept even if left empty)
    producers_from: list  # [_SegmentView] of the whole log, for the last batch of each producer
    segments: list  # the Segment objects replaced, to check at install time
    #: producer id -> [(first offset, marker offset)] of its aborted transactions
    aborted: dict | None = None
    cancelled: bool = False
    result: CleanResult | None = None
    new_bases: list | None = None
    _ran_since: float = 0.0

    def pause(self) -> None:
        """Between batches: after YIELD_EVERY_S of work, hand the GIL to the owner's loop (not
        after every batch: a sleep(0) per batch would cost the pass several times its CPU)."""
        now = time.perf_counter()
        if now - self._ran_since >= YIELD_EVERY_S:
            time.sleep(0)
            self._ran_since = time.perf_counter()


def plan(plog, now: int) -> CleanPass | None:
    """The next pass over ``plog``, or None when nothing is cleanable. Owner's thread only."""
    cfg = plog.config
    first_dirty, end, segments = cleanable_range(plog, now)
    if first_dirty >= end or not segments:
        return None
    dirty = [s for s in segments if s.base_offset >= first_dirty]
    if not dirty:  # the log start moved into the last cleanable segment: nothing to map
        return None
    mapped: list[Segment] = []
    budget = PASS_DIRTY_BYTES
    for seg in dirty:
        if mapped and seg.size > budget:
            break
        mapped.append(seg)
        budget -= seg.size
    all_segments = plog.segments
    end_offset = all_segments[all_segments.index(mapped[-1]) + 1].base_offset
    to_clean = [s for s in segments if s.base_offset < end_offset]
    views = {id(s): _SegmentView.of(s) for s in all_segments}
    aborted: dict[int, list] = {}
    for t in plog.aborted_transactions(to_clean[0].base_offset, end_offset):
        aborted.setdefault(t.producer_id, []).append((t.first_offset, t.last_offset))
    return CleanPass(
        plog.directory,
        cfg,
        now,
        [views[id(s)] for s in mapped],
        _groups([views[id(s)] for s in to_clean], cfg),
        end_offset,
        to_clean[0] is all_segments[0],
        [views[id(s)] for s in all_segments],
        to_clean,
        aborted,
    )


def _in_aborted_txn(p: CleanPass, h) -> bool:
    """Is this batch's data part of an aborted transaction (per batch header)?"""
    if not p.aborted or not h.is_transactional:
        return False
    return any(first <= h.base_offset <= last for first, last in p.aborted.get(h.producer_id, ()))


def _map_keys(p: CleanPass, latest: dict) -> None:
    for view in p.mapped:
        if not view.size:
            continue
        with _mapped(view) as mv:
            for pos, h in view.headers(mv):
                if p.cancelled:
                    raise _Cancelled()
                p.pause()
                if h.is_control or _in_aborted_txn(p, h):
                    continue
                buf, at = _records(mv, pos, h)
                with buf:
                    if batch.record_keys(buf, h.records_count, at, h.base_offset, latest) < 0:
                        raise ValueError(
                            f"{p.directory}: records of the batch at {view.base_offset}+{pos} do not parse"
                        )


def _last_batch_of_producers(p: CleanPass) -> dict[int, int]:
    """producer id -> base offset of its last batch in the log as planned (headers only)."""
    last = {}
    for view in p.producers_from:
        if not view.size:
            continue
        with _mapped(view) as mv:
            for _, h in view.headers(mv):
                if h.producer_id >= 0:
                    last[h.producer_id] = h.base_offset
    return last


def _groups(segments: list, cfg) -> list[list]:
    """Consecutive segments merged while the originals fit one segment (Kafka's
    groupSegmentsBySize): bytes, index entries and relative offsets."""
    groups: list[list] = []
    cur: list = []
    size = index = times = 0
    for seg in segments:
        s, i, t = seg.size, seg.index_bytes, seg.time_index_bytes
        if cur and (
            size + s > cfg.segment_bytes
            or index + i > cfg.segment_index_bytes
            or times + t > cfg.segment_index_bytes
            or seg.next_offset - cur[0].base_offset > 0x7FFFFFFF
        ):
            groups.append(cur)
            cur, size, index, times = [], 0, 0, 0
        cur.append(seg)
        size, index, times = size + s, index + i, times + t
    if cur:
        groups.append(cur)
    return groups


class _Cancelled(Exception):
    pass


def build(p: CleanPass) -> CleanPass:
    """Write the pass's new segments into ``cleaning/`` (fsynced) and fill ``p.result`` and
    ``p.new_bases``. Reads only through the descriptors ``plan`` took, so it may run on another
    thread while the owner appends; ``p.cancelled`` stops it (the work directory is dropped)."""
    cfg = p.config
    latest: dict[bytes, int] = {}
    producers = None
    horizon = p.now - cfg.delete_retention_ms
    result = CleanResult(
        p.groups[0][0].base_offset,
        p.end_offset,
        sum(v.size for g in p.groups for v in g),
        0,
        0,
        0,
        0,
        sum(len(g) for g in p.groups),
        0,
    )
    work = swap.fresh_work_dir(p.directory)
    new_bases = []
    try:
        _map_keys(p, latest)
        for gi, group in enumerate(p.groups):
            out = Segment(work, group[0].base_offset, cfg, writable=True, active=True)
            try:
                for view in group:
                    if not view.size:
                        continue
                    drop_tombstones = view.largest_timestamp < horizon
                    with _mapped(view) as mv:
                        for pos, h in view.headers(mv):
                            if p.cancelled:
                                raise _Cancelled()
                            p.pause()
                            result.records_before += h.records_count
                            if h.is_control:
                                _keep_whole(out, mv, pos, h)
                                continue
                            if _in_aborted_txn(p, h):
                                result.records_dropped += h.records_count
                                result.batches_dropped += 1
                                continue
                            buf, at = _records(mv, pos, h)
                            with buf:
                                kept = batch.retain_records(
                                    buf, h.records_count, at, h.base_offset, h.base_timestamp, latest, drop_tombstones
                                )
                            if kept is None:
                                raise ValueError(
                                    f"{p.directory}: records of the batch at {view.base_offset}+{pos} do not parse"
                                )
                            data, count, max_ts = kept
                            if count == h.records_count:
                                _keep_whole(out, mv, pos, h)
                                continue
                            if not count and h.producer_id >= 0:
                                if producers is None:
                                    producers = _last_batch_of_producers(p)
                                if producers.get(h.producer_id) == h.base_offset:
                                    _keep_whole(out, mv, pos, h)
                                    continue
                            result.records_dropped += h.records_count - count
                            if not count:
                                result.batches_dropped += 1
                                continue
                            new = rebuild_batch(h, data, count, max_ts)
                            out.append(new, h.base_offset, h.last_offset, batch.read_header(new).max_timestamp)
                out.seal()
                out.flush()
                result.bytes_after += out.size
            finally:
                out.close()
            if out.size or (gi == 0 and p.first_is_log_start):
                new_bases.append(group[0].base_offset)
            else:  # nothing left: no segment (the first stays, empty, so the log start stays)
                out.delete()
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # nothing of this pass stays
        raise
    result.segments_after = len(new_bases)
    p.result, p.new_bases = result, new_bases
    return p


def install(plog, p: CleanPass, around_swap=contextlib.nullcontext) -> CleanResult | None:
    """Swap the built segments in (owner's thread). None, with the work dropped, when the log no
    longer holds what the pass read (retention, DeleteRecords, a deleted topic meanwhile)."""
    current = plog.segments
    try:
        i = next(k for k, s in enumerate(current) if s is p.segments[0])
    except StopIteration:
        i = -1
    unchanged = (
        i >= 0
        and list(current[i : i + len(p.segments)]) == p.segments
        and i + len(p.segments) < len(current)
        and all(s.size == v.size for s, v in zip(p.segments, (v for g in p.groups for v in g)))
    )
    if not unchanged or p.new_bases is None:
        shutil.rmtree(os.path.join(p.directory, swap.WORK_DIR), ignore_errors=True)
        log.info("cleaning %s: the log changed during the pass; its work is dropped", p.directory)
        return None
    swap.commit(p.directory, [s.base_offset for s in p.segments], p.new_bases)
    with around_swap():
        swap.complete(p.directory)
        plog.replace_segments(p.segments, p.new_bases)
    plog.cleaner_offset = p.end_offset
    plog.save_checkpoint()
    r = p.result
    assert r is not None  # build filled it
    log.info(
        "cleaned %s: offsets [%d, %d), %d -> %d bytes, %d records and %d batches dropped",
        p.directory,
        r.first_offset,
        r.end_offset,
        r.bytes_before,
        r.bytes_after,
        r.records_dropped,
        r.batches_dropped,
    )
    return r


def clean_log(plog, now: int, around_swap=contextlib.nullcontext) -> CleanResult | None:
    """One whole pass over ``plog`` on the calling (owner's) thread; None when nothing was
    cleanable."""
    p = plan(plog, now)
    if p is None:
        return None
    return install(plog, build(p), around_swap)
