"""Sparse offset index of a segment: ``<base offset>.index``, a numpy array over mmap.

Byte layout (8 bytes an entry, little-endian: the native order of every host we run on, so the
numpy arrays are searched in place without a byte swap; Kafka writes the same fields
big-endian, so these files are not interchangeable with Kafka's)::

    off width field
      0   4   relative_offset  uint32  batch base offset - segment base offset
      4   4   position         uint32  byte position of that batch in the .log

One entry is added when more than ``index.interval.bytes`` have been appended since the last one
(Kafka's rule, so a segment's first batch has none: position 0 is implied). Entries increase
strictly in both columns. The file of the active segment is preallocated to
``segment.index.bytes`` (zeros past the last entry) and trimmed to its entries on roll and on
clean shutdown, so a trimmed file's length says how many entries it holds.

Crash story: the index is a cache of the .log. After an unclean stop it is rebuilt for every
segment past the recovery point; a file that fails ``sanity_check`` (length not a multiple of 8,
columns not increasing, last entry past the end of the .log) is rebuilt too. A zero tail left by
preallocation is never trusted because a clean shutdown trims it.

Who may touch it: the writer of the partition (PartitionLog) appends and truncates; reader
processes map the same file read-only and only trust entries below a published upper bound
(``refresh``).
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Any

import numpy as np

#: entries at the end of an index that lookups try first: the pages that are warm in the page
#: cache because appends and tailing consumers hit them (AbstractIndex uses 8 KiB the same way)
WARM_BYTES = 8192
_ENTRY = struct.Struct("<II")  # one offset index entry (the layout above)


class MmapIndex:
    """Shared machinery of the offset and time indexes: a structured array over a mapped file."""

    DTYPE: np.dtype
    KEY: str  # the column searched by lookups
    _arr: Any = None  # the entries: a record array over the mapped file (set by _map, None unmapped)

    def __init__(
        self, path: str, base_offset: int, max_index_size: int, *, writable: bool = True, preallocate: bool = False
    ):
        self.path = path
        self.base_offset = base_offset
        self.writable = writable
        self.entry_size = self.DTYPE.itemsize
        self.max_entries = max(1, max_index_size // self.entry_size)
        self._warm_entries = max(1, WARM_BYTES // self.entry_size)
        self._mm: mmap.mmap | None = None
        self._capacity = 0  # entries the mapped file has room for (set by _map)
        #: False when the file had to be created: a missing index of a non-empty segment is rebuilt
        self.existed = os.path.exists(path)
        flags = (os.O_RDWR | os.O_CREAT) if writable else os.O_RDONLY
        self._fd = os.open(path, flags | os.O_CLOEXEC, 0o644)
        length = os.fstat(self._fd).st_size
        #: False when the file length is not a whole number of entries: the caller rebuilds
        self.length_ok = length % self.entry_size == 0
        self.entries = length // self.entry_size
        # Lookups search contiguous in-memory copies of the columns (Redpanda's index_state
        # layout): numpy's searchsorted would copy a strided column of the mapped records on
        # every call. The mapped file is what persists; the columns are rebuilt from it on open.
        self._names: tuple[str, ...] = self.DTYPE.names or ()
        self._cols = {name: np.zeros(64, dtype=self.DTYPE[name]) for name in self._names}
        self._key_types = {
            name: (int(np.iinfo(self.DTYPE[name]).min), int(np.iinfo(self.DTYPE[name]).max), self.DTYPE[name].type)
            for name in self._names
        }
        if writable:
            self._map(self.max_entries * self.entry_size if preallocate else length)
            # A file left untrimmed by an unclean stop is as long as its preallocation
            # (segment.index.bytes, 10 MiB by default): only its prefix of real entries is
            # copied. Copying it whole would fault in every page of the zero tail and keep
            # columns of ~1.3 million entries per index: ~20 MiB per partition of a handler
            # restarted after SIGKILL.
            self._put_many(self._arr[: self._valid_prefix(self.entries)].copy(), at=0)
        else:
            # Readers copy entries in with pread (``refresh``) instead of mapping: the writer
            # trims the file on roll, and touching a mapped page past the new end is SIGBUS.
            self.entries = 0

    # -- mapping ------------------------------------------------------------------------------
    def _map(self, length: int) -> None:
        self._unmap()
        length -= length % self.entry_size
        if self.writable and os.fstat(self._fd).st_size != length:
            os.ftruncate(self._fd, length)
        self.entries = min(self.entries, length // self.entry_size)
        # what is_full compares with on every append (a reader's index is always "full")
        self._capacity = min(self.max_entries, length // self.entry_size) if self.writable else 0
        if length == 0:
            self._arr = np.zeros(0, dtype=self.DTYPE)
            return
        access = mmap.ACCESS_WRITE if self.writable else mmap.ACCESS_READ
        self._mm = mmap.mmap(self._fd, length, access=access)
        # Entries are appended a few bytes at a time into a mostly sparse file. Without this, the
        # first store into a hole makes the kernel read ahead (and zero) a large folio, for
        # each of a new segment's two index files. With it a fault maps one page.
        self._mm.madvise(mmap.MADV_RANDOM)
        self._arr = np.frombuffer(self._mm, dtype=self.DTYPE)

    def _unmap(self) -> None:
        self._arr = None  # drop the buffer export before closing the map
        if self._mm is not None:
            self._mm.close()
            self._mm = None

    def preallocate(self) -> None:
        """Grow the file back to ``segment.index.bytes`` (the segment became active again)."""
        self._map(self.max_entries * self.entry_size)

    def trim(self) -> None:
        """Cut the file to its entries (roll, clean shutdown): its length then counts them."""
        n = self.entries
        self.flush()
        self._map(n * self.entry_size)
        self.entries = n

    def flush(self) -> None:
        if self._mm is not None and self.writable:
            self._mm.flush()

    def close(self) -> None:
        self._unmap()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def delete(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    # -- entries ------------------------------------------------------------------------------
    def _is_entry(self, i: int) -> bool:
        """Entry ``i`` of the mapped file is a written one, not the zero tail (subclasses)."""
        raise NotImplementedError

    def _valid_prefix(self, n: int) -> int:
        """How many of the first ``n`` mapped entries precede the zero tail: a binary search
        (a few page faults, not a scan of the file). Entries are written in order, so a real
        prefix is followed by zeros; should the search stop short on a damaged file, fewer
        entries are kept, which only makes lookups scan further (any subset of a sparse index
        is a valid one) until ``sanity_check`` or recovery rebuilds it."""
        if n == 0 or self._is_entry(n - 1):
            return n
        lo, hi = 0, n - 1  # entry hi is not written; find the first entry that is not
        while lo < hi:
            mid = (lo + hi) // 2
            if self._is_entry(mid):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _put_many(self, records: np.ndarray, at: int) -> None:
        """Copy ``records`` into the columns at entry ``at`` (not into the file)."""
        need = at + len(records)
        for name, col in self._cols.items():
            if need > len(col):
                grown = np.zeros(max(2 * len(col), need), dtype=col.dtype)
                grown[:at] = col[:at]
                self._cols[name] = col = grown
            col[at:need] = records[name]
        self.entries = need

    def _put(self, values: tuple) -> None:
        """Append one entry to the file and the columns. Scalar stores: a batch of a Produce
        adds up to one entry to each index, and a one-row ``_put_many`` (slices and a structured
        view per column) would cost more than twice as much per entry."""
        n = self.entries
        self._arr[n] = values
        cols = self._cols
        if n >= len(cols[self._names[0]]):  # every column has the same length
            self._put_many(self._arr[n : n + 1], at=n)  # grows the columns
            return
        for col, v in zip(cols.values(), values):
            col[n] = v
        self.entries = n + 1

    def is_full(self) -> bool:
        return self.entries >= self._capacity

    def reset(self) -> None:
        """Empty the index before a rebuild from the .log."""
        self.truncate_to_entries(0)
        self.length_ok = self.existed = True

    def truncate_to_entries(self, n: int) -> None:
        n = max(0, min(n, self.entries))
        if self.writable and n < self.entries:
            self._arr[n : self.entries] = 0  # keep the zero tail honest for readers
        self.entries = n

    def column(self, name: str) -> np.ndarray:
        return self._cols[name][: self.entries]

    def _floor(self, name: str, key: int) -> int:
        """Index of the last entry whose ``name`` column is <= key, or -1.

        Searches the warm tail first (most lookups are for recent offsets), then the rest.
        """
        n = self.entries
        if n == 0:
            return -1
        col = self._cols[name]
        # a key of the column's own dtype: a Python int would make numpy cast the whole column
        lo, hi, make = self._key_types[name]
        if key < lo:
            return -1
        key = make(key if key < hi else hi)
        warm = n - self._warm_entries
        if warm <= 0:
            return int(col[:n].searchsorted(key, side="right")) - 1
        if key >= col[warm]:
            return warm + int(col[warm:n].searchsorted(key, side="right")) - 1
        return int(col[:warm].searchsorted(key, side="right")) - 1

    def _is_increasing(self, name: str) -> bool:
        col = self.column(name).astype(np.int64)
        return bool(np.all(col[1:] > col[:-1]))

    def __len__(self) -> int:
        return self.entries


class OffsetIndex(MmapIndex):
    DTYPE = np.dtype([("relative_offset", "<u4"), ("position", "<u4")])

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        if not self.writable:
            # a reader may open the writer's preallocated active index, whose length counts the
            # zero tail too: trust only the valid prefix (``refresh`` extends it as the writer
            # adds entries). Taking the zeros would make every lookup walk the segment from byte 0.
            self.entries = 0
            self.refresh(2**63 - 1)

    def _is_entry(self, i: int) -> bool:
        # the first entry comes after index.interval.bytes of batches: every position is > 0
        return int(self._arr[i]["position"]) > 0

    def append(self, offset: int, position: int) -> None:
        n = self.entries
        rel = offset - self.base_offset
        if n and (rel <= int(self._cols["relative_offset"][n - 1]) or position <= int(self._cols["position"][n - 1])):
            raise ValueError(f"index entry ({offset}, {position}) not after the last one in {self.path}")
        self._put((rel, position))

    def lookup(self, offset: int) -> tuple[int, int]:
        """(offset, position) of the last entry at or below ``offset``; (base_offset, 0) if none."""
        i = self._floor("relative_offset", offset - self.base_offset)
        if i < 0:
            return self.base_offset, 0
        return self.base_offset + int(self._cols["relative_offset"][i]), int(self._cols["position"][i])

    def lookup_position(self, position: int) -> tuple[int, int]:
        """(offset, position) of the last entry at or below byte ``position``."""
        i = self._floor("position", position)
        if i < 0:
            return self.base_offset, 0
        return self.base_offset + int(self._cols["relative_offset"][i]), int(self._cols["position"][i])

    def last_entry(self) -> tuple[int, int]:
        if self.entries == 0:
            return self.base_offset, 0
        i = self.entries - 1
        return self.base_offset + int(self._cols["relative_offset"][i]), int(self._cols["position"][i])

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= ``offset``."""
        self.truncate_to_entries(
            int(np.searchsorted(self.column("relative_offset"), max(0, offset - self.base_offset), side="left"))
        )

    def sanity_check(self, log_size: int) -> bool:
        if not self.length_ok:
            return False
        if self.entries == 0:
            return True
        pos = self.column("position")
        return (
            self._is_increasing("relative_offset")
            and self._is_increasing("position")
            and int(pos[0]) > 0
            and int(pos[-1]) < log_size
        )

    def _first_is_new(self, raw: bytes, n: int, upper_bound: int) -> bool:
        """Would the first entry of ``raw`` (entry ``n`` of the file) pass ``refresh``'s checks?"""
        rel, pos = _ENTRY.unpack_from(raw)
        if n:
            return (
                rel > int(self._cols["relative_offset"][n - 1])
                and pos > int(self._cols["position"][n - 1])
                and rel + self.base_offset < upper_bound
            )
        return pos > 0 and rel + self.base_offset < upper_bound

    def refresh(self, upper_bound: int) -> None:
        """Reader side: copy in the entries the writer added below ``upper_bound``.

        The writer adds an entry after the batch's bytes are written and before it publishes a
        bound past that batch, so entries below the bound are complete; a zero or torn entry
        breaks the strictly increasing columns and stops the walk.
        """
        if self.writable:
            return
        # A reader polling the tail usually finds nothing or a few new entries: read a small
        # chunk first and grow, so the common call is one short pread.
        chunk_entries = 64
        while True:
            n = self.entries
            raw = os.pread(self._fd, chunk_entries * self.entry_size, n * self.entry_size)
            k = len(raw) // self.entry_size
            if k == 0:
                return
            if not self._first_is_new(raw, n, upper_bound):
                # the usual answer at the tail: spares the vectorised check's numpy calls on a
                # chunk of the preallocated zero tail, once per Fetch
                return
            chunk = np.frombuffer(raw, dtype=self.DTYPE, count=k)
            rel = chunk["relative_offset"].astype(np.int64)
            pos = chunk["position"].astype(np.int64)
            prev_rel = int(self._cols["relative_offset"][n - 1]) if n else -1
            prev_pos = int(self._cols["position"][n - 1]) if n else 0
            ok = (
                (rel + self.base_offset < upper_bound)
                & (pos > 0)
                & (np.diff(rel, prepend=prev_rel) > 0)
                & (np.diff(pos, prepend=prev_pos) > 0)
            )
            good = k if ok.all() else int(np.argmin(ok))
            if good:
                self._put_many(chunk[:good], at=n)
            if good < chunk_entries:
                return
            chunk_entries = min(chunk_entries * 4, 4096)
