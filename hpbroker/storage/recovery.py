"""Opening a partition directory: which segments exist, and which must be scanned.

Theory of operation. A clean shutdown (``PartitionLog.close``) fsyncs every segment, trims the
indexes to their entries, writes the checkpoint and last of all the ``.clean_shutdown`` marker.
Opening removes the marker first (and fsyncs the directory), so a crash at any later point is
seen as unclean on the next open.

- Clean open: no batch is read beyond the active segment's tail after its last index entry.
  Indexes failing their sanity check are rebuilt anyway.
- Unclean open: segments that hold offsets at or above the recovery point (everything not known
  to be fsynced) are scanned batch by batch with CRC-32C. The first invalid batch cuts its
  segment there and every later segment is deleted: the log ends at the longest valid prefix.
  Their indexes are rebuilt from the scan. Segments wholly below the recovery point are trusted
  like after a clean stop.

The process that opens a directory for writing must be its only writer (see log.py).
"""

from __future__ import annotations

import logging
import os

from hpbroker.storage import swap
from hpbroker.storage.checkpoint import fsync_dir
from hpbroker.storage.config import LogConfig
from hpbroker.storage.segment import INDEX_SUFFIX, LOG_SUFFIX, TIMEINDEX_SUFFIX, Segment
from hpbroker.storage.txn_index import TXNINDEX_SUFFIX

log = logging.getLogger(__name__)

CLEAN_SHUTDOWN_FILE = ".clean_shutdown"


def list_segment_offsets(directory: str) -> list[int]:
    out = []
    for name in os.listdir(directory):
        stem, ext = os.path.splitext(name)
        if ext == LOG_SUFFIX and len(stem) == 20 and stem.isdigit():
            out.append(int(stem))
    return sorted(out)


def remove_strays(directory: str, bases: list[int]) -> None:
    """Delete temp files and indexes whose .log is gone (a crash in the middle of a delete)."""
    keep = {f"{b:020d}" for b in bases}
    for name in os.listdir(directory):
        stem, ext = os.path.splitext(name)
        if ext == ".tmp" or (ext in (INDEX_SUFFIX, TIMEINDEX_SUFFIX, TXNINDEX_SUFFIX) and stem not in keep):
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass


def consume_clean_marker(directory: str) -> bool:
    path = os.path.join(directory, CLEAN_SHUTDOWN_FILE)
    if not os.path.exists(path):
        return False
    os.unlink(path)
    fsync_dir(directory)
    return True


def write_clean_marker(directory: str) -> None:
    path = os.path.join(directory, CLEAN_SHUTDOWN_FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    os.fsync(fd)
    os.close(fd)
    fsync_dir(directory)


def load_segments(directory: str, config: LogConfig, *, clean: bool, recovery_point: int) -> list[Segment]:
    """Open every segment for writing, recovering as the theory above says."""
    swap.recover(directory)  # a log cleaner's pass cut short: dropped, or finished if committed
    bases = list_segment_offsets(directory)
    remove_strays(directory, bases)
    segments: list[Segment] = []
    for i, base in enumerate(bases):
        last = i == len(bases) - 1
        seg = Segment(directory, base, config, writable=True, active=last)
        next_base = bases[i + 1] if not last else None
        needs_scan = not clean and (next_base is None or next_base > recovery_point)
        if needs_scan:
            cut = seg.recover(check_crc=True)
            if cut:
                log.warning("%s: cut %d bytes of invalid data at position %d", seg.log_path, cut, seg.size)
                segments.append(seg)
                for later in bases[i + 1 :]:
                    Segment(directory, later, config).delete()
                break
            if not last:
                seg.seal()
        elif not _load_trusted(seg, next_base, last):
            log.warning("%s: indexes inconsistent, rebuilding", seg.log_path)
            cut = seg.recover(check_crc=True)
            if cut and not last:
                segments.append(seg)
                for later in bases[i + 1 :]:
                    Segment(directory, later, config).delete()
                break
            if not last:
                seg.seal()
        segments.append(seg)
    if segments:
        segments[-1].activate()
    return segments


def open_sealed(directory: str, base: int, next_base: int, config: LogConfig) -> Segment:
    """A sealed segment written and fsynced by this process (the log cleaner's), opened for the
    writer as ``load_segments`` opens one below the recovery point."""
    seg = Segment(directory, base, config, writable=True)
    if not _load_trusted(seg, next_base, False):
        log.warning("%s: indexes inconsistent, rebuilding", seg.log_path)
        seg.recover(check_crc=True)
        seg.seal()
        seg.next_offset = next_base
    return seg


def _load_trusted(seg: Segment, next_base: int | None, last: bool) -> bool:
    """Set up a segment believed whole; False when its indexes do not fit its .log."""
    if not seg.index.sanity_check(seg.size):
        return False
    if seg.size:
        if not (seg.index.existed and seg.time_index.existed):
            return False
        first = seg.read_header(0)
        if first is None or first.base_offset != seg.base_offset and first.base_offset < seg.base_offset:
            return False
        # a segment longer than one index interval past its first batch must have entries
        if seg.index.entries == 0:
            # Kafka's rule puts an entry at the first batch starting past index.interval.bytes
            for pos, _ in seg.iter_headers(first.size, seg.size):
                if pos > seg.config.index_interval_bytes:
                    return False
        if not last and seg.time_index.entries == 0 and first.max_timestamp >= 0:
            return False
    if last:
        if not seg.load_tail():
            return False
    else:
        # a sealed segment: its last time entry holds its largest timestamp (segment.seal)
        assert next_base is not None  # a sealed segment has a successor
        seg.next_offset = next_base
        last_t = seg.time_index.last_entry()
        if last_t is not None:
            seg.max_timestamp, seg.offset_of_max_timestamp = last_t
        # verify the last offset index entry points at a batch with that base offset
        off, pos = seg.index.last_entry()
        if pos:
            h = seg.read_header(pos)
            if h is None or h.base_offset != off:
                return False
    if not seg.time_index.sanity_check(max(seg.next_offset, seg.base_offset + 1)):
        return False
    return True
