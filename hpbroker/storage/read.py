"""One read of a partition's log: the walk over its segments, shared by the writer and readers.

A Fetch reads whole batches from the one holding ``fetch_offset``, below an upper bound (an
offset: the high watermark, or what the writer published), within ``max_bytes`` except that
the first batch is returned whole when ``min_one_batch`` (KIP-74). The answer is a list of file
regions for ``os.sendfile``; no record bytes are copied.

Two callers walk the same way, over the same files:
- ``PartitionLog.read`` (log.py): the partition's writer, which knows each segment's size and
  next offset;
- ``PartitionLogReader.read`` (reader.py): another process, which knows only what it listed in
  the directory and the bound the writer published.
They differ only in how they find where the bound cuts a segment (``bound_position``); the walk,
the byte budget and where a read stops are here, once.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hpbroker.storage.segment import FileRegion, Segment


@dataclass
class ReadResult:
    regions: list[FileRegion] = field(default_factory=list)
    size: int = 0
    first_offset: int = -1  # base offset of the first batch returned; the fetch offset if empty
    log_start_offset: int = 0
    log_end_offset: int = 0
    high_watermark: int = 0

    def read_bytes(self) -> bytes:
        return b"".join(r.read() for r in self.regions)


#: (segment's index in the walk, segment, upper bound) -> the byte position where the bound cuts
#: that segment (the end of its last batch below the bound), or None when the caller cannot tell
#: (a reader whose listing of the directory is older than the bound)
BoundPosition = Callable[[int, Segment, int], "int | None"]


def read_segments(
    result: ReadResult,
    segments: Sequence[Segment],
    bases: Sequence[int],
    offset: int,
    max_bytes: int,
    upper_bound: int,
    min_one_batch: bool,
    bound_position: BoundPosition,
) -> bool:
    """Append to ``result`` the regions of whole batches from the one holding ``offset``, below
    ``upper_bound``, within ``max_bytes`` (the first batch whole when ``min_one_batch``).

    ``segments`` are ordered by base offset, ``bases`` their base offsets. Returns False when
    the walk could not finish on these segments: ``bound_position`` answered None, or the
    segments ended before the bound with nothing read (a reader then lists the directory again
    and retries); True otherwise.
    """
    remaining = max_bytes
    regions = result.regions
    n = len(bases)
    for i in range(max(0, bisect.bisect_right(bases, offset) - 1), n):
        seg = segments[i]
        if seg.base_offset >= upper_bound:
            return True
        max_position = bound_position(i, seg, upper_bound)
        if max_position is None:
            return False
        got = seg.read(offset, remaining, max_position, min_one_batch and not regions)
        if got is None:  # nothing at or after ``offset`` in this segment
            offset = bases[i + 1] if i + 1 < n else upper_bound
            continue
        pos, length, h = got
        if length == 0:  # the bound or the byte budget stops the read here
            return True
        if not regions:
            result.first_offset = h.base_offset
        regions.append(FileRegion(seg.handle, pos, length))
        result.size += length
        remaining -= length
        if remaining <= 0 or pos + length < max_position:
            return True
        offset = bases[i + 1] if i + 1 < n else upper_bound
    return offset >= upper_bound or bool(regions)
