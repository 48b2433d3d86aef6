"""One log segment: ``<base offset>.log`` plus its offset, time and aborted transactions indexes.

The .log holds RecordBatch v2 batches exactly as served to consumers (byte layout in
hpbroker/records/layout.py), appended with ``os.pwrite`` at the tracked end position so a failed
write can be cut back. Reads never copy records into Python: they return ``FileRegion`` objects
(fd, position, length) for ``os.sendfile``. Only the 61-byte batch headers are read (``os.pread``)
to find batch boundaries, starting from the nearest index entry.

Crash story: the .log is the truth, the indexes a cache (index.py). After an unclean stop,
``recover`` walks the file with ``hpbroker.records.batch.scan`` (length, magic, CRC-32C), cuts it
at the first invalid batch and rebuilds both indexes from the walk.

Who may touch it: a writable Segment belongs to the PartitionLog of the partition's single
writer; read-only Segments belong to one PartitionLogReader. ``FileHandle``/``FileRegion`` may
travel to any thread of the owning process.
"""

from __future__ import annotations

import mmap
import os
import weakref

from hpbroker.records import batch
from hpbroker.records.layout import RECORD_BATCH_OVERHEAD, BatchHeader, InvalidRecordBatch
from hpbroker.storage.config import LogConfig
from hpbroker.storage.index import OffsetIndex
from hpbroker.storage.timeindex import TimeIndex
from hpbroker.storage.txn_index import TXNINDEX_SUFFIX, TransactionIndex

LOG_SUFFIX, INDEX_SUFFIX, TIMEINDEX_SUFFIX = ".log", ".index", ".timeindex"


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


class FileHandle:
    """An open .log descriptor shared by its Segment and every FileRegion handed out.

    The descriptor is closed when the last holder drops it (CPython reference counting runs the
    finalizer at once), so a segment deleted by retention or closed by a roll stays readable
    for a caller that still holds a region and has not called ``os.sendfile`` yet.
    """

    __slots__ = ("fd", "path", "_finalizer", "__weakref__")

    def __init__(self, fd: int, path: str):
        self.fd = fd
        self.path = path
        self._finalizer = weakref.finalize(self, os.close, fd)

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive


class FileRegion:
    """A byte range of a segment file, ready for ``os.sendfile(sock, fd, position, length)``."""

    __slots__ = ("handle", "position", "length")

    def __init__(self, handle: FileHandle, position: int, length: int):
        self.handle = handle
        self.position = position
        self.length = length

    @property
    def fd(self) -> int:
        return self.handle.fd

    def read(self) -> bytes:
        """The bytes (tests, internal topics): not for the fetch path."""
        out = os.pread(self.handle.fd, self.length, self.position)
        if len(out) != self.length:
            raise OSError(f"short read of {self.handle.path} at {self.position}")
        return out

    def sendfile(self, out_fd: int) -> int:
        """Send the whole region to a blocking ``out_fd``; returns bytes sent."""
        sent, pos, end = 0, self.position, self.position + self.length
        while pos < end:
            n = os.sendfile(out_fd, self.handle.fd, pos, end - pos)
            if n == 0:
                raise OSError(f"{self.handle.path} ended before position {end}")
            pos += n
            sent += n
        return sent

    def __repr__(self) -> str:
        return f"FileRegion({self.handle.path!r}, position={self.position}, length={self.length})"


class Segment:
    def __init__(
        self, directory: str, base_offset: int, config: LogConfig, *, writable: bool = True, active: bool = False
    ):
        self.directory = directory
        self.base_offset = base_offset
        self.config = config
        self.writable = writable
        stem = os.path.join(directory, segment_name(base_offset))
        self.log_path = stem + LOG_SUFFIX
        flags = (os.O_RDWR | os.O_CREAT) if writable else os.O_RDONLY
        fd = os.open(self.log_path, flags | os.O_CLOEXEC, 0o644)
        self.handle = FileHandle(fd, self.log_path)
        st = os.fstat(fd)
        #: bytes of whole batches (writer); for a reader, the file size when opened
        self.size = st.st_size
        self.created_ms = int(st.st_mtime * 1000)
        self.index = OffsetIndex(
            stem + INDEX_SUFFIX,
            base_offset,
            config.segment_index_bytes,
            writable=writable,
            preallocate=active and writable,
        )
        self.time_index = TimeIndex(
            stem + TIMEINDEX_SUFFIX,
            base_offset,
            config.segment_index_bytes,
            writable=writable,
            preallocate=active and writable,
        )
        self.txn_index = TransactionIndex(stem + TXNINDEX_SUFFIX, writable=writable)
        # writer state, set by load_tail / rebuild / append
        self.next_offset = base_offset
        self.max_timestamp = -1
        self.offset_of_max_timestamp = base_offset
        self.first_batch_timestamp: int | None = None  # basis of the segment.ms roll
        self.bytes_since_last_index_entry = 0

    # -- headers -------------------------------------------------------------------------------
    def read_header(self, position: int) -> BatchHeader | None:
        """The batch header at ``position``, or None at end of file (or a short tail)."""
        raw = os.pread(self.handle.fd, RECORD_BATCH_OVERHEAD, position)
        if len(raw) < RECORD_BATCH_OVERHEAD:
            return None
        return batch.read_header(raw)

    def translate(self, offset: int, end: int | None = None) -> tuple[int, BatchHeader | None]:
        """Position of the first batch whose last offset is >= ``offset`` (the batch holding it,
        or the next one), with its header; ``(end position, None)`` when there is none.

        ``end`` bounds the walk (the writer passes ``size``); None walks to the end of the file.
        """
        _, pos = self.index.lookup(offset)
        limit = self.size if end is None and self.writable else end
        while limit is None or pos < limit:
            h = self.read_header(pos)
            if h is None or h.magic != 2 or h.batch_length < RECORD_BATCH_OVERHEAD - 12:
                break
            if h.base_offset + h.last_offset_delta >= offset:
                return pos, h
            pos += h.batch_length + 12
        return pos, None

    def iter_headers(self, position: int = 0, end: int | None = None):
        limit = self.size if end is None else end
        while position < limit:
            h = self.read_header(position)
            if h is None:
                return
            yield position, h
            position += h.size

    # -- append and indexing ------------------------------------------------------------------
    def append(self, buf, base_offset: int, last_offset: int, max_timestamp: int) -> int:
        """Write one batch at the end; returns its position."""
        pos = self.size
        view = memoryview(buf)
        size = len(view)
        fd = self.handle.fd
        try:
            done = 0
            while done < size:
                done += os.pwrite(fd, view[done:], pos + done)
        except BaseException:
            os.ftruncate(fd, pos)  # never leave a torn batch behind a failed write
            raise
        self._index_batch(pos, base_offset, last_offset, max_timestamp, size)
        return pos

    def _index_batch(self, pos: int, base_offset: int, last_offset: int, max_timestamp: int, size: int) -> None:
        if self.first_batch_timestamp is None:
            self.first_batch_timestamp = max_timestamp
        if max_timestamp > self.max_timestamp:
            self.max_timestamp = max_timestamp
            self.offset_of_max_timestamp = base_offset
        if self.bytes_since_last_index_entry > self.config.index_interval_bytes:
            self.index.append(base_offset, pos)
            self.time_index.append(self.max_timestamp, self.offset_of_max_timestamp)
            self.bytes_since_last_index_entry = 0
        self.bytes_since_last_index_entry += size
        self.size = pos + size
        self.next_offset = last_offset + 1

    def can_index_more(self) -> bool:
        return not (self.index.is_full() or self.time_index.is_full())

    def _reset_state(self) -> None:
        self.next_offset = self.base_offset
        self.max_timestamp = -1
        self.offset_of_max_timestamp = self.base_offset
        self.first_batch_timestamp = None
        self.bytes_since_last_index_entry = 0

    def load_tail(self) -> bool:
        """Rebuild the in-memory append state from the indexes and the batches after the last
        index entry (a clean open or a truncation). False if a header there is invalid."""
        self._reset_state()
        first = self.read_header(0) if self.size else None
        if first is not None:
            self.first_batch_timestamp = first.max_timestamp
        last = self.time_index.last_entry()
        if last is not None:
            self.max_timestamp, self.offset_of_max_timestamp = last
        entry_offset, pos = self.index.last_entry()
        if pos > 0:
            self.bytes_since_last_index_entry = 0
        while pos < self.size:
            h = self.read_header(pos)
            if h is None or h.magic != 2 or pos + h.size > self.size or h.base_offset < entry_offset:
                return False
            if h.max_timestamp > self.max_timestamp:
                self.max_timestamp = h.max_timestamp
                self.offset_of_max_timestamp = h.base_offset
            self.bytes_since_last_index_entry += h.size
            self.next_offset = h.last_offset + 1
            pos += h.size
        return pos == self.size

    def recover(self, check_crc: bool = True) -> int:
        """Scan the whole .log, cut it at the first invalid batch, rebuild both indexes.

        Returns the number of bytes cut off (0 when the file was whole).
        """
        file_size = os.fstat(self.handle.fd).st_size
        self.activate()  # room for a full rebuild; the caller seals it again if it is not active
        batches = []
        valid_end = 0
        if file_size:
            with mmap.mmap(self.handle.fd, file_size, access=mmap.ACCESS_READ) as mm:
                valid_end, batches = batch.scan(mm, 0, file_size, check_crc)
        self.index.reset()
        self.time_index.reset()
        self._reset_state()
        self.size = 0
        prev_last = self.base_offset - 1
        for pos, base, last, max_ts, size in batches:
            if base <= prev_last or last < base or base - self.base_offset > 0xFFFFFFFF:
                valid_end = pos  # offsets must increase: anything else is not ours
                break
            if not self.can_index_more():
                valid_end = pos
                break
            self._index_batch(pos, base, last, max_ts, size)
            prev_last = last
        if valid_end < file_size and self.writable:
            os.ftruncate(self.handle.fd, valid_end)
        self.size = valid_end
        return file_size - valid_end

    # -- reading --------------------------------------------------------------------------------
    def read(
        self,
        offset: int,
        max_bytes: int,
        max_position: int,
        min_one_batch: bool,
        start: tuple[int, BatchHeader | None] | None = None,
    ):
        """(position, length, first batch header) of whole batches from the one holding
        ``offset``, ending at or before ``max_position`` (a batch boundary), at most ``max_bytes``
        unless ``min_one_batch`` lets the first batch through whole (KIP-74).

        None when no batch at or after ``offset`` is in this segment; length 0 when the bound or
        the budget stops the read before the first batch.
        """
        pos, h = start if start is not None else self.translate(offset, max_position)
        if h is None:
            return None if pos < max_position or max_position >= self.size else (pos, 0, None)
        if pos >= max_position:
            return pos, 0, h
        limit = pos + max(0, max_bytes)
        if limit >= max_position:
            end = max_position
        else:
            _, p = self.index.lookup_position(limit)
            p = max(p, pos)
            for q, hh in self.iter_headers(p, limit):
                if q + hh.size > limit:
                    break
                p = q + hh.size
            end = p
            if end == pos:
                if not min_one_batch:
                    return pos, 0, h
                end = pos + h.size
        return pos, end - pos, h

    def find_offset_by_timestamp(self, timestamp: int, start_offset: int):
        """(offset, timestamp) of the first record at or after ``start_offset`` whose timestamp
        is >= ``timestamp``, or None (Kafka's LogSegment.findOffsetByTimestamp)."""
        from hpbroker.records.records import iter_batch_records

        entry = self.time_index.lookup(timestamp)
        from_offset = max(entry[1] if entry else self.base_offset, start_offset)
        _, pos = self.index.lookup(from_offset)
        for p, h in self.iter_headers(pos):
            if h.last_offset < start_offset or h.max_timestamp < timestamp:
                continue
            # one batch is decoded here (ListOffsets only): the record-level answer Kafka gives
            try:
                raw = os.pread(self.handle.fd, h.size, p)
                for r in iter_batch_records(raw):
                    if r.offset >= start_offset and r.timestamp >= timestamp:
                        return r.offset, r.timestamp
            except (InvalidRecordBatch, ValueError, IndexError):
                pass
            return max(h.base_offset, start_offset), h.max_timestamp
        return None

    def largest_timestamp(self) -> int:
        """Retention's clock for this segment: its max timestamp, else the file's mtime."""
        if self.max_timestamp >= 0:
            return self.max_timestamp
        return int(os.fstat(self.handle.fd).st_mtime * 1000)

    # -- lifecycle ------------------------------------------------------------------------------
    def truncate_to(self, offset: int) -> int:
        """Drop batches whose last offset is >= ``offset``; returns bytes removed."""
        pos, h = self.translate(offset, self.size)
        if h is None:
            return 0
        removed = self.size - pos
        # entries name batch base offsets: cut at the first removed batch, not at ``offset``
        self.index.truncate_to(h.base_offset)
        self.time_index.truncate_to(h.base_offset)
        self.txn_index.truncate_to(h.base_offset)
        os.ftruncate(self.handle.fd, pos)
        self.size = pos
        self.load_tail()
        return removed

    def seal(self) -> None:
        """The segment stops being active: final time index entry, indexes trimmed."""
        if self.max_timestamp >= 0:
            self.time_index.append(self.max_timestamp, self.offset_of_max_timestamp)
        self.index.trim()
        self.time_index.trim()

    def activate(self) -> None:
        self.index.preallocate()
        self.time_index.preallocate()

    def flush(self) -> None:
        os.fsync(self.handle.fd)
        self.index.flush()
        self.time_index.flush()
        self.txn_index.flush()

    def close(self) -> None:
        """Drop this segment's hold on its files; the fd closes with the last FileRegion."""
        self.index.close()
        self.time_index.close()
        self.handle = None  # type: ignore[assignment]  # closed: nothing reads it any more

    def delete(self) -> None:
        self.index.delete()
        self.time_index.delete()
        self.txn_index.delete()
        try:
            os.unlink(self.log_path)
        except FileNotFoundError:
            pass
        self.handle = None  # type: ignore[assignment]  # closed: nothing reads it any more

    def __repr__(self) -> str:
        return f"Segment(base_offset={self.base_offset}, size={self.size}, next_offset={self.next_offset})"
