"""Sparse time index of a segment: ``<base offset>.timeindex``, a numpy array over mmap.

Byte layout (12 bytes an entry, little-endian for the reason given in index.py)::

    off width field
      0   8   timestamp        int64   largest batch max_timestamp seen in the segment so far
      8   4   relative_offset  uint32  base offset of the first batch that reached it - base offset

An entry is added with each offset index entry when the largest timestamp grew since the last
time entry, and once more when the segment rolls, so the last entry of a sealed segment holds
its largest timestamp. Both columns increase strictly. Every batch before the entry's offset
has a max_timestamp below the entry's timestamp, which is what makes ``lookup`` a safe place to
start the batch scan of ``PartitionLog.offset_for_timestamp`` (Kafka's ListOffsets rule: the
first batch whose max_timestamp >= the target).

Crash story: as for the offset index (index.py): a cache of the .log, preallocated, trimmed on
roll and clean shutdown, rebuilt after an unclean stop or when ``sanity_check`` fails.
Who may touch it: only the partition's writer.
"""

from __future__ import annotations

import numpy as np

from hpbroker.storage.index import MmapIndex


class TimeIndex(MmapIndex):
    DTYPE = np.dtype([("timestamp", "<i8"), ("relative_offset", "<u4")])

    def _is_entry(self, i: int) -> bool:
        # timestamps increase strictly, so only a first entry could be all zeros; taking it for
        # the tail only drops cached entries (see _valid_prefix)
        row = self._arr[i]
        return int(row["timestamp"]) != 0 or int(row["relative_offset"]) != 0

    def append(self, timestamp: int, offset: int) -> None:
        """Add (timestamp, offset) if timestamp is larger than the last entry's; else nothing."""
        n = self.entries
        if n and timestamp <= int(self._cols["timestamp"][n - 1]):
            return
        rel = offset - self.base_offset
        if n and rel <= int(self._cols["relative_offset"][n - 1]):
            return
        self._put((timestamp, rel))

    def lookup(self, timestamp: int) -> tuple[int, int] | None:
        """(timestamp, offset) of the last entry with timestamp <= ``timestamp``, or None."""
        i = self._floor("timestamp", timestamp)
        if i < 0:
            return None
        return int(self._cols["timestamp"][i]), self.base_offset + int(self._cols["relative_offset"][i])

    def last_entry(self) -> tuple[int, int] | None:
        if self.entries == 0:
            return None
        i = self.entries - 1
        return int(self._cols["timestamp"][i]), self.base_offset + int(self._cols["relative_offset"][i])

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= ``offset``."""
        self.truncate_to_entries(
            int(np.searchsorted(self.column("relative_offset"), max(0, offset - self.base_offset), side="left"))
        )

    def sanity_check(self, next_offset: int) -> bool:
        if not self.length_ok:
            return False
        if self.entries == 0:
            return True
        return (
            self._is_increasing("timestamp")
            and self._is_increasing("relative_offset")
            and self.base_offset + int(self.column("relative_offset")[-1]) < next_offset
        )
