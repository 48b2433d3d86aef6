"""PartitionLogReader: read a partition's log from a process that does not own it.

Contract (the writer's side is in log.py):
- Files are opened read-only; the reader never writes, truncates or deletes.
- Every read takes ``upper_bound``: an offset the writer published after the batches below it
  were written and indexed. Only batches whose last offset is below it are returned, so a batch
  being written (visible as a prefix of its bytes) is never served.
- New segments are found by re-listing the directory when a read reaches the end of the last
  segment this reader knows of before reaching the bound. Segments deleted by retention stay
  readable through the descriptors this reader already holds; they are dropped when a re-list
  no longer finds them (FileRegions handed out keep their descriptor until released).
- After the writer truncates (``PartitionLog.truncate_to``, follower only) the bytes at an
  offset can change; the owner must publish that, and readers call ``reset()`` before reading
  on, since index entries cached from the old tail would point into the new one.

Who may touch it: one thread of the reader process at a time (e.g. a processor's event loop).
"""

from __future__ import annotations

import os
import time

from hpbroker.storage.config import LogConfig
from hpbroker.storage.errors import OffsetOutOfRange
from hpbroker.storage.read import ReadResult, read_segments
from hpbroker.storage.recovery import list_segment_offsets
from hpbroker.storage.segment import Segment
from hpbroker.storage.txn_index import AbortedTxn, collect_aborted

#: How long before a listing a directory change must be for the listing to be trusted. A file
#: created after the listing must get a different mtime than the one listed: mtimes come from
#: the kernel's coarse clock (a few milliseconds behind time.time_ns) and are stored at the
#: filesystem's granularity (1 ns on ext4, xfs, btrfs and tmpfs; 1 s on some older and network
#: filesystems). 2 s covers both; until then a reader re-lists at each read that ends at the
#: bound, which happens only in the seconds after a segment is rolled or deleted.
LISTING_SETTLE_NS = 2_000_000_000


class PartitionLogReader:
    def __init__(self, directory: str, config: LogConfig | None = None):
        self.directory = directory
        self.config = config or LogConfig()
        self._segments: dict[int, Segment] = {}  # base offset -> segment
        self._bases: list[int] = []
        self._ordered: list[Segment] = []  # the segments in base offset order, as _bases
        self._relisted = False  # the read in progress listed the directory itself
        self._sealed_size: dict[int, int] = {}
        #: the owner's rewrite counter when this reader last listed (kept by the caller,
        #: server/multiproc/processor_broker.py: it resets the reader when the counter moved)
        self.rewrites_seen = 0
        self.refresh()

    def refresh(self) -> None:
        """Re-list the directory: open new segments, forget deleted ones."""
        try:
            # stat before listing: a segment created in between moves the mtime past this one
            self._listed_mtime = os.stat(self.directory).st_mtime_ns
            self._listed_at = time.time_ns()
            bases = list_segment_offsets(self.directory)
        except FileNotFoundError:
            self._listed_mtime = -1
            bases = []
        opened = {}
        for b in bases:
            seg = self._segments.get(b)
            if seg is None:
                try:
                    seg = Segment(self.directory, b, self.config, writable=False)
                except FileNotFoundError:  # deleted between listing and opening
                    continue
            opened[b] = seg
        for b, seg in self._segments.items():
            if b not in opened:
                seg.close()
                self._sealed_size.pop(b, None)
        self._segments = opened
        self._bases = sorted(opened)
        self._ordered = [opened[b] for b in self._bases]

    def _bound_position(self, i: int, seg: Segment, upper_bound: int) -> int | None:
        """Byte position where the bound cuts segment ``i`` (the walk in read.py never passes
        it); None if this reader's view of the directory is too old to tell (the bound lies in a
        segment it has not listed)."""
        seg.index.refresh(upper_bound)
        if i + 1 < len(self._bases) and self._bases[i + 1] <= upper_bound:
            size = self._sealed_size.get(seg.base_offset)
            if size is None:  # a segment with a successor is sealed: its size is final
                size = self._sealed_size[seg.base_offset] = os.fstat(seg.handle.fd).st_size
            seg.size = size
            return size
        pos, h = seg.translate(upper_bound, None)
        if h is not None or i == len(self._bases) - 1 and (self._relisted or self._listing_current()):
            # found the first batch at the bound; or, with a current listing, the file ends (or
            # a header is still being written) right where the complete batches end
            seg.size = pos
            return pos
        return None

    def _listing_current(self) -> bool:
        """Has the directory not changed since ``refresh`` listed it? One stat instead of a
        listdir for every read that ends at the bound (a consumer at the tail: every Fetch).
        A directory changed within LISTING_SETTLE_NS before the listing is not trusted: its
        timestamps come from a coarse clock, so a file created just after the listing could
        carry the same mtime."""
        try:
            mtime = os.stat(self.directory).st_mtime_ns
        except FileNotFoundError:
            return False
        return mtime == self._listed_mtime and self._listed_at - mtime > LISTING_SETTLE_NS

    def read(
        self,
        fetch_offset: int,
        max_bytes: int,
        *,
        upper_bound: int,
        min_one_batch: bool = True,
        log_start_offset: int | None = None,
    ) -> ReadResult:
        result = ReadResult(first_offset=fetch_offset, high_watermark=upper_bound)
        if fetch_offset >= upper_bound:
            return result
        for attempt in (0, 1):
            if attempt or not self._bases or fetch_offset < self._bases[0]:
                self.refresh()
            if (
                not self._bases
                or fetch_offset < self._bases[0]
                or (log_start_offset is not None and fetch_offset < log_start_offset)
            ):
                first = self._bases[0] if self._bases else upper_bound
                raise OffsetOutOfRange(fetch_offset, max(first, log_start_offset or 0), upper_bound)
            result = ReadResult(first_offset=fetch_offset, high_watermark=upper_bound, log_start_offset=self._bases[0])
            self._relisted = attempt == 1
            if read_segments(
                result,
                self._ordered,
                self._bases,
                fetch_offset,
                max_bytes,
                upper_bound,
                min_one_batch,
                self._bound_position,
            ):
                return result
        return result

    def read_bytes(self, fetch_offset: int, max_bytes: int, **kw) -> bytes:
        return self.read(fetch_offset, max_bytes, **kw).read_bytes()

    def aborted_transactions(self, fetch_offset: int, upper_bound: int) -> list[AbortedTxn]:
        """The aborted transactions overlapping [fetch_offset, upper_bound) (txn_index.py),
        from the ``.txnindex`` files as they are now: an entry is written before the marker's
        offset is published, so every marker below the bound has its entry. A segment rolled
        since the last listing may hold one: the listing is renewed unless it is current."""
        if fetch_offset >= upper_bound:
            return []
        if not self._listing_current():
            self.refresh()
        return collect_aborted(self._ordered, self._bases, fetch_offset, upper_bound)

    def reset(self) -> None:
        """Forget every cached segment and index entry (after the writer truncated)."""
        self.close()
        self.refresh()

    def close(self) -> None:
        for seg in self._segments.values():
            seg.close()
        self._segments = {}
        self._bases = []
        self._ordered = []
        # a segment's size as sealed is no longer final once the writer truncated: after a
        # truncation into it and new appends it may be sealed again at another size
        self._sealed_size = {}
