"""The aborted transactions index of a segment: ``<base offset>.txnindex`` (Kafka's TransactionIndex).

Byte layout (Kafka's, big-endian, 34 bytes an entry, entries in the order the markers were
appended, no header)::

    off width field
      0   2   version             int16   0
      2   8   producer_id         int64
     10   8   first_offset        int64   first offset of the aborted transaction
     18   8   last_offset         int64   offset of its ABORT marker
     26   8   last_stable_offset  int64   the partition's first unstable offset once this
                                          transaction completed (the marker's offset + 1 when
                                          no other transaction was open)

An entry goes to the segment that holds the ABORT marker, written right after the marker is
appended. A read_committed Fetch from ``fetch_offset`` with an upper bound collects, from the
segment holding the fetch offset on, every entry with ``last_offset >= fetch_offset`` and
``first_offset < upper_bound``; the walk stops at the first entry whose ``last_stable_offset``
reaches the bound (no later entry can start below it). Consumers drop the records of these
producers from ``first_offset`` up to the marker.

Crash story: the file is appended with ``os.write`` on an O_APPEND descriptor; a torn last
entry (a size not a multiple of 34) is ignored and cut off when the writer opens the file. A
truncation of the log (replication) drops the entries whose marker is at or past the truncation
offset. The file goes with its segment (retention, deletion).

Who may touch: the partition's writer appends and truncates (``TransactionIndex`` of a writable
segment, entries kept in memory); readers in other processes read the file at each collect.
"""

from __future__ import annotations

import bisect
import os
import struct
from typing import NamedTuple

TXNINDEX_SUFFIX = ".txnindex"
ENTRY = struct.Struct(">hqqqq")
ENTRY_SIZE = ENTRY.size  # 34
VERSION = 0


class AbortedTxn(NamedTuple):
    producer_id: int
    first_offset: int
    last_offset: int
    last_stable_offset: int


def _parse(data: bytes) -> list[AbortedTxn]:
    n = len(data) // ENTRY_SIZE
    out = []
    for i in range(n):
        _v, pid, first, last, lso = ENTRY.unpack_from(data, i * ENTRY_SIZE)
        out.append(AbortedTxn(pid, first, last, lso))
    return out


def read_entries(path: str) -> list[AbortedTxn]:
    """The whole entries of a ``.txnindex`` file ([] when there is none)."""
    try:
        with open(path, "rb") as f:
            return _parse(f.read())
    except FileNotFoundError:
        return []


class TransactionIndex:
    """One segment's aborted transactions. A writable index keeps its entries in memory and
    creates the file on its first entry; a read-only one reads the file at every ``entries``."""

    def __init__(self, path: str, writable: bool = True):
        self.path = path
        self.writable = writable
        self._entries: list[AbortedTxn] | None = None
        if writable:
            self._entries = read_entries(path)
            try:
                size = os.path.getsize(path)
            except FileNotFoundError:
                size = 0
            if size % ENTRY_SIZE:  # a torn last entry
                os.truncate(path, len(self._entries) * ENTRY_SIZE)

    def entries(self) -> list[AbortedTxn]:
        if self._entries is not None:
            return self._entries
        return read_entries(self.path)

    def append(self, txn: AbortedTxn) -> None:
        entries = self._entries
        assert entries is not None, "a read-only transaction index"
        if entries and txn.last_offset <= entries[-1].last_offset:
            raise ValueError(f"aborted transaction at {txn.last_offset} does not follow {entries[-1].last_offset}")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, ENTRY.pack(VERSION, *txn))
        finally:
            os.close(fd)
        entries.append(txn)

    def truncate_to(self, offset: int) -> None:
        """Drop the entries whose marker is at or past ``offset``."""
        entries = self._entries
        if not entries:
            return
        keep = [e for e in entries if e.last_offset < offset]
        if len(keep) != len(entries):
            os.truncate(self.path, len(keep) * ENTRY_SIZE)
            self._entries = keep

    def flush(self) -> None:
        if self._entries:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def delete(self) -> None:
        self._entries = []
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def collect(self, fetch_offset: int, upper_bound: int) -> tuple[list[AbortedTxn], bool]:
        """(entries overlapping [fetch_offset, upper_bound), complete): complete when no later
        segment can hold one (Kafka's collectAbortedTxns)."""
        out = []
        for e in self.entries():
            if e.last_offset >= fetch_offset and e.first_offset < upper_bound:
                out.append(e)
            if e.last_stable_offset >= upper_bound:
                return out, True
        return out, False


def collect_aborted(segments, bases, fetch_offset: int, upper_bound: int) -> list[AbortedTxn]:
    """The aborted transactions a read_committed Fetch of [fetch_offset, upper_bound) must
    name, walking the segments from the one holding ``fetch_offset`` (``segments`` ordered by
    base offset, ``bases`` their base offsets, each with a ``txn_index``)."""
    out: list[AbortedTxn] = []
    if fetch_offset >= upper_bound:
        return out
    # a marker may sit in any later segment, so the walk goes on until an entry says complete
    for i in range(max(0, bisect.bisect_right(bases, fetch_offset) - 1), len(segments)):
        found, complete = segments[i].txn_index.collect(fetch_offset, upper_bound)
        out.extend(found)
        if complete:
            break
    return out
