"""The log cleaner: compaction of partitions whose cleanup.policy includes "compact".

Theory of operation (Kafka's LogCleaner; one pass over one partition at a time, run by the
partition's owner from its maintenance timer; the active segment is never touched):

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
- Files: the new segments are written into ``cleaning/`` and swapped in by storage/swap.py
  (crash-safe; a pass cut short is dropped or finished when the partition is opened).
  ``around_swap`` brackets the file moves, so the owner can tell readers in other processes
  (the partition table's rewrite counter, server/partition_table.py); readers in this process
  run on the same thread as the pass, and regions they handed out keep the old files open.

Cost: a pass reads and rewrites the whole cleanable log (the clean part too) on the owner's
thread, per batch in Python and per record in Cython: it runs at most once per maintenance tick,
dirty bytes per pass are bounded, and nothing is done for a partition whose dirty part is
below its ratio.

Who may touch: the partition's single writer (the same thread as its appends).
"""
from __future__ import annotations

import contextlib
import logging
import mmap
import shutil
from dataclasses import dataclass

from hpbroker.records import batch
from hpbroker.records.builder import rebuild_batch
from hpbroker.records.compression import decompressed_view
from hpbroker.records.layout import RECORD_BATCH_OVERHEAD
from hpbroker.storage import swap
from hpbroker.storage.recovery import open_sealed
from hpbroker.storage.segment import Segment

log = logging.getLogger(__name__)

PASS_DIRTY_BYTES = 64 << 20  # dirty bytes mapped per pass (Kafka bounds it by its map's memory)
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


def _records(mm, pos: int, h):
    """(buffer, position of the first record) of the batch at ``pos``: the segment bytes, or the
    decompressed payload (a scratch view, valid until the next decompression)."""
    if not h.compression:
        return mm[pos:pos + h.size], RECORD_BATCH_OVERHEAD
    return decompressed_view(h.compression, mm[pos + RECORD_BATCH_OVERHEAD:pos + h.size]), 0


def _map_keys(segments: list[Segment], latest: dict) -> None:
    for seg in segments:
        if not seg.size:
            continue
        with mmap.mmap(seg.handle.fd, seg.size, access=mmap.ACCESS_READ) as mm:
            for pos, h in seg.iter_headers(0, seg.size):
                if h.is_control:
                    continue
                buf, at = _records(mm, pos, h)
                with memoryview(buf) as view:
                    if batch.record_keys(view, h.records_count, at, h.base_offset, latest) < 0:
                        raise ValueError(f"{seg.log_path}: records of the batch at {pos} do not parse")


def _last_batch_of_producers(plog) -> dict[int, int]:
    """producer id -> base offset of its last batch anywhere in the log (headers only)."""
    last = {}
    for seg in plog.segments:
        for _, h in seg.iter_headers(0, seg.size):
            if h.producer_id >= 0:
                last[h.producer_id] = h.base_offset
    return last


def _groups(segments: list[Segment], cfg) -> list[list[Segment]]:
    """Consecutive segments merged while the originals fit one segment (Kafka's
    groupSegmentsBySize): bytes, index entries and relative offsets."""
    groups, cur = [], []
    size = index = times = 0
    for seg in segments:
        s, i, t = seg.size, seg.index.entries * _INDEX_ENTRY, seg.time_index.entries * _TIME_ENTRY
        if cur and (size + s > cfg.segment_bytes or index + i > cfg.segment_index_bytes
                    or times + t > cfg.segment_index_bytes or seg.next_offset - cur[0].base_offset > 0x7FFFFFFF):
            groups.append(cur)
            cur, size, index, times = [], 0, 0, 0
        cur.append(seg)
        size, index, times = size + s, index + i, times + t
    if cur:
        groups.append(cur)
    return groups


def clean_log(plog, now: int, around_swap=contextlib.nullcontext) -> CleanResult | None:
    """One pass over ``plog`` (see the module doc); None when nothing was cleanable."""
    cfg = plog.config
    first_dirty, end, segments = cleanable_range(plog, now)
    if first_dirty >= end or not segments:
        return None
    dirty = [s for s in segments if s.base_offset >= first_dirty]
    if not dirty:  # the log start moved into the last cleanable segment: nothing to map
        return None
    mapped, budget = [], PASS_DIRTY_BYTES
    for seg in dirty:
        if mapped and seg.size > budget:
            break
        mapped.append(seg)
        budget -= seg.size
    latest: dict[bytes, int] = {}
    _map_keys(mapped, latest)
    map_end = plog.segments[plog.segments.index(mapped[-1]) + 1].base_offset
    to_clean = [s for s in segments if s.base_offset < map_end]
    producers = None
    horizon = now - cfg.delete_retention_ms
    result = CleanResult(to_clean[0].base_offset, map_end, sum(s.size for s in to_clean), 0, 0, 0, 0,
                         len(to_clean), 0)
    directory = plog.directory
    work = swap.fresh_work_dir(directory)
    groups = _groups(to_clean, cfg)
    new_bases = []
    try:
        for group in groups:
            out = Segment(work, group[0].base_offset, cfg, writable=True, active=True)
            try:
                for seg in group:
                    if not seg.size:
                        continue
                    drop_tombstones = seg.largest_timestamp() < horizon
                    with mmap.mmap(seg.handle.fd, seg.size, access=mmap.ACCESS_READ) as mm:
                        for pos, h in seg.iter_headers(0, seg.size):
                            result.records_before += h.records_count
                            if h.is_control:
                                out.append(mm[pos:pos + h.size], h.base_offset, h.last_offset, h.max_timestamp)
                                continue
                            buf, at = _records(mm, pos, h)
                            with memoryview(buf) as view:
                                kept = batch.retain_records(view, h.records_count, at, h.base_offset,
                                                            h.base_timestamp, latest, drop_tombstones)
                            if kept is None:
                                raise ValueError(f"{seg.log_path}: records of the batch at {pos} do not parse")
                            records, count, max_ts = kept
                            if count == h.records_count:
                                out.append(mm[pos:pos + h.size], h.base_offset, h.last_offset, h.max_timestamp)
                                continue
                            result.records_dropped += h.records_count - count
                            if not count:
                                if h.producer_id >= 0:
                                    if producers is None:
                                        producers = _last_batch_of_producers(plog)
                                    if producers.get(h.producer_id) == h.base_offset:
                                        out.append(mm[pos:pos + h.size], h.base_offset, h.last_offset,
                                                   h.max_timestamp)
                                        result.records_dropped -= h.records_count
                                        continue
                                result.batches_dropped += 1
                                continue
                            new = rebuild_batch(h, records, count, max_ts)
                            out.append(new, h.base_offset, h.last_offset, batch.read_header(new).max_timestamp)
                out.seal()
                out.flush()
                result.bytes_after += out.size
            finally:
                out.close()
            if out.size or group[0] is plog.segments[0]:
                new_bases.append(group[0].base_offset)
            else:  # nothing left: no segment (the first stays, empty, so the log start stays)
                out.delete()
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # nothing of this pass stays
        raise
    replaced = [s.base_offset for s in to_clean]
    swap.commit(directory, replaced, new_bases)
    with around_swap():
        swap.complete(directory)
        plog.replace_segments(to_clean, new_bases)
    plog.cleaner_offset = map_end
    plog.save_checkpoint()
    result.segments_after = len(new_bases)
    log.info("cleaned %s: offsets [%d, %d), %d -> %d bytes, %d records and %d batches dropped",
             directory, result.first_offset, map_end, result.bytes_before, result.bytes_after,
             result.records_dropped, result.batches_dropped)
    return result
