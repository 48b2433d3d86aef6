"""Pure-Python twin of cython/records/_cbatch.pyx (the reference for the parity tests).

Reads the 61-byte header of each batch with ``struct``; the CRC over the records runs in the
crc32c library (hardware CRC-32C). The one walk over record bytes, counting the length-prefixed
records of an uncompressed batch in ``validate``, is per-record Python here and C in the twin:
this module is the slow, obvious reference, used in production only if the build is broken.
Error codes and messages match the compiled twin exactly.
"""

from __future__ import annotations

import struct

from crc32c import crc32c

from hpbroker.records.layout import (
    CODEC_MASK,
    CONTROL_MASK,
    CORRUPT_MESSAGE,
    INVALID_RECORD,
    LOG_OVERHEAD,
    MAGIC,
    OFF_ATTRIBUTES,
    OFF_BATCH_LENGTH,
    OFF_CRC,
    OFF_MAX_TIMESTAMP,
    OFF_PARTITION_LEADER_EPOCH,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_MASK,
    ZSTD,
    BatchHeader,
    InvalidRecordBatch,
)

_HEADER = struct.Struct(">qiibIhiqqqhii")
_I64 = struct.Struct(">q")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I16 = struct.Struct(">h")
_MIN_BATCH_LENGTH = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD
_MIN_RECORD_BODY = 6  # attributes + five one-byte varints
_SHORT = "record batch shorter than its 61-byte header"


def read_header(buf, pos: int = 0) -> BatchHeader:
    if pos < 0 or len(buf) - pos < RECORD_BATCH_OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, _SHORT)
    return BatchHeader._make(_HEADER.unpack_from(buf, pos))


def _crc(buf, start: int, stop: int) -> int:
    with memoryview(buf) as m:  # released at once: an mmap with a live export cannot close
        return crc32c(m[start:stop])


def _frame(buf, pos: int, end: int, check_crc: bool) -> tuple[BatchHeader | None, InvalidRecordBatch | None]:
    """Length, magic and (optionally) CRC of the batch at ``pos``, which must end by ``end``."""
    if end - pos < RECORD_BATCH_OVERHEAD:
        return None, InvalidRecordBatch(CORRUPT_MESSAGE, _SHORT)
    h = read_header(buf, pos)
    if h.magic != MAGIC:
        # Produce v3+ accepts magic 2 only (Kafka's ProduceRequest.validateRecords)
        return h, InvalidRecordBatch(INVALID_RECORD, f"unsupported magic {h.magic}")
    if h.batch_length < _MIN_BATCH_LENGTH or pos + h.batch_length + LOG_OVERHEAD > end:
        return h, InvalidRecordBatch(CORRUPT_MESSAGE, f"batch length {h.batch_length} does not fit")
    if check_crc:
        crc = _crc(buf, pos + OFF_ATTRIBUTES, pos + LOG_OVERHEAD + h.batch_length)
        if crc != h.crc:
            return h, InvalidRecordBatch(CORRUPT_MESSAGE, f"CRC mismatch: stored {h.crc:#x}, computed {crc:#x}")
    return h, None


def _skip_varint(buf, pos: int, end: int) -> tuple[int, int]:
    """Zig-zag varint32 at ``pos`` (at most 5 bytes, as Kafka's readVarint); (value, pos) or pos -1."""
    raw = 0
    shift = 0
    while pos < end and shift <= 28:
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            raw &= 0xFFFFFFFF
            value = (raw >> 1) ^ -(raw & 1)
            return value, pos
        shift += 7
    return 0, -1


def _skip_varlong(buf, pos: int, end: int) -> int:
    """Past the zig-zag varlong at ``pos`` (at most 10 bytes); new pos or -1."""
    for _ in range(10):
        if pos >= end:
            return -1
        if not buf[pos] & 0x80:
            return pos + 1
        pos += 1
    return -1


def _records_fill(buf, pos: int, end: int, count: int, offset_deltas: bool = False) -> bool:
    """True when exactly ``count`` length-prefixed records fill [pos, end) of an uncompressed
    batch; with ``offset_deltas`` the i-th record's offsetDelta must also be i (its layout:
    length, attributes int8, timestampDelta varlong, offsetDelta varint, ...)."""
    for n in range(count):
        length, pos = _skip_varint(buf, pos, end)
        if pos < 0 or length < _MIN_RECORD_BODY or length > end - pos:
            return False
        if offset_deltas:
            q = _skip_varlong(buf, pos + 1, pos + length)
            if q < 0:
                return False
            delta, q = _skip_varint(buf, q, pos + length)
            if q < 0 or delta != n:
                return False
        pos += length
    return pos == end


def keyless_records(buf, count: int, pos: int = 0) -> list | None:
    """Indexes, ascending, of the ``count`` records at ``pos`` whose key is null (keyLength -1):
    [] when every record has a key, None if the records do not parse (``_record_fields``)."""
    out: list[int] = []
    if count <= 0:
        return out
    with memoryview(buf) as m:
        end = m.nbytes
        if pos < 0 or pos >= end:
            return None
        for n in range(count):
            f = _record_fields(m, pos, end)
            if f is None:
                return None
            if f[4] < 0:
                out.append(n)
            pos = f[0]
    return out


def records_outside_time(buf, count: int, pos: int, base_timestamp: int, low: int, high: int) -> list | None:
    """(index, timestamp, offsetDelta) of each of the ``count`` records at ``pos`` whose timestamp
    (baseTimestamp + timestampDelta, wrapping as a Java long) lies outside [low, high], ascending;
    a record without a timestamp (-1) is never outside. [] when all are within, None if the
    records do not parse (``_record_fields``)."""
    out: list[tuple[int, int, int]] = []
    if count <= 0:
        return out
    with memoryview(buf) as m:
        end = m.nbytes
        if pos < 0 or pos >= end:
            return None
        for n in range(count):
            f = _record_fields(m, pos, end)
            if f is None:
                return None
            ts = (base_timestamp + f[1] + (1 << 63)) % (1 << 64) - (1 << 63)
            if ts != -1 and (ts < low or ts > high):
                out.append((n, ts, f[2]))
            pos = f[0]
    return out


def _read_varlong(buf, pos: int, end: int) -> tuple[int, int]:
    """Zig-zag varlong at ``pos`` (at most 10 bytes); (value, pos) or pos -1."""
    raw = 0
    for shift in range(0, 70, 7):
        if pos >= end:
            return 0, -1
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            raw &= 0xFFFFFFFFFFFFFFFF
            return (raw >> 1) ^ -(raw & 1), pos
    return 0, -1


def _record_fields(m, pos: int, end: int):
    """One record at ``pos``: (record end, timestampDelta, offsetDelta, key start, keyLength,
    valueLength) or None if it does not parse. Layout: length varint, attributes int8,
    timestampDelta varlong, offsetDelta varint, keyLength varint, key, valueLength varint, ..."""
    length, pos = _skip_varint(m, pos, end)
    if pos < 0 or length < _MIN_RECORD_BODY or length > end - pos:
        return None
    rec_end = pos + length
    ts_delta, q = _read_varlong(m, pos + 1, rec_end)
    if q < 0:
        return None
    offset_delta, q = _skip_varint(m, q, rec_end)
    if q < 0:
        return None
    key_length, q = _skip_varint(m, q, rec_end)
    if q < 0 or key_length > rec_end - q:
        return None
    key_at = q
    q += max(key_length, 0)
    value_length, q = _skip_varint(m, q, rec_end)
    if q < 0 or value_length > rec_end - q:
        return None
    return rec_end, ts_delta, offset_delta, key_at, key_length, value_length


def record_keys(buf, count: int, pos: int, base_offset: int, latest: dict) -> int:
    """The cleaner's offset map: for each of ``count`` records at ``pos`` that has a key,
    ``latest[key] = base_offset + offsetDelta`` (a later record of the key overwrites). Returns
    how many records had a key, -2 if the records do not parse."""
    keyed = 0
    if count <= 0:
        return 0
    with memoryview(buf) as m:
        end = m.nbytes
        if pos < 0 or pos >= end:
            return -2
        for _ in range(count):
            f = _record_fields(m, pos, end)
            if f is None:
                return -2
            rec_end, _, offset_delta, key_at, key_length, _ = f
            if key_length >= 0:
                latest[bytes(m[key_at : key_at + key_length])] = base_offset + offset_delta
                keyed += 1
            pos = rec_end
    return keyed


def retain_records(
    buf, count: int, pos: int, base_offset: int, base_timestamp: int, latest: dict, drop_tombstones: bool
):
    """The records of one batch that compaction keeps, verbatim and in order: (their bytes,
    how many, the largest of their timestamps or -1). A record goes when it has no key, when
    ``latest`` maps its key to a later offset, or when it is a tombstone (null value) and
    ``drop_tombstones``. None if the records do not parse."""
    out = bytearray()
    kept, max_ts = 0, -1
    if count <= 0:
        return b"", 0, -1
    with memoryview(buf) as m:
        end = m.nbytes
        if pos < 0 or pos >= end:
            return None
        for _ in range(count):
            start = pos
            f = _record_fields(m, pos, end)
            if f is None:
                return None
            rec_end, ts_delta, offset_delta, key_at, key_length, value_length = f
            pos = rec_end
            if key_length < 0:
                continue
            if latest.get(bytes(m[key_at : key_at + key_length]), -1) > base_offset + offset_delta:
                continue
            if value_length < 0 and drop_tombstones:
                continue
            out += m[start:rec_end]
            kept += 1
            max_ts = max(max_ts, base_timestamp + ts_delta)
    return bytes(out), kept, max_ts


def records_fill(buf, count: int, offset_deltas: bool = False) -> bool:
    """True when exactly ``count`` length-prefixed records fill ``buf`` (a decompressed payload);
    with ``offset_deltas``, also when their offsetDeltas run 0, 1, ..., count - 1."""
    if count < 0:
        return False
    with memoryview(buf) as m:
        return _records_fill(m, 0, m.nbytes, count, offset_deltas)


def validate(buf, pos: int = 0, end: int = -1) -> BatchHeader:
    """Check one batch from a client that must fill [pos, end) exactly (Produce v3+ rule)."""
    if end < 0:
        end = len(buf)
    if pos < 0 or end > len(buf):
        raise ValueError(f"batch range [{pos}, {end}) lies outside a buffer of {len(buf)} bytes")
    h, err = _frame(buf, pos, end, True)
    if err is not None:
        raise err
    assert h is not None  # _frame gives a header or an error
    if pos + h.batch_length + LOG_OVERHEAD != end:
        raise InvalidRecordBatch(INVALID_RECORD, "exactly one record batch per partition is allowed")
    codec = h.attributes & CODEC_MASK
    if codec > ZSTD:
        # Kafka fails such a batch with an IllegalArgumentException (UNKNOWN_SERVER_ERROR); the
        # bytes cannot be decoded, so the producer hears CORRUPT_MESSAGE
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"unknown compression codec {codec}")
    if h.records_count <= 0 or h.last_offset_delta + 1 != h.records_count:
        raise InvalidRecordBatch(
            INVALID_RECORD,
            f"records count {h.records_count} does not match last offset delta {h.last_offset_delta}",
        )
    if h.attributes & CONTROL_MASK:
        raise InvalidRecordBatch(INVALID_RECORD, "clients may not send control batches")
    if h.producer_id >= 0 and h.base_sequence < 0:
        raise InvalidRecordBatch(INVALID_RECORD, "idempotent batch without a base sequence")
    if codec == 0:
        with memoryview(buf) as m:
            ok = _records_fill(m, pos + RECORD_BATCH_OVERHEAD, end, h.records_count)
        if not ok:
            # Kafka walks uncompressed records on append and rejects a count that does not match
            raise InvalidRecordBatch(
                INVALID_RECORD, f"records do not fill the batch as its count {h.records_count} says"
            )
    return h


def _writable(buf, pos: int) -> int:
    """Check that ``buf`` can be patched at ``pos``; return its length."""
    with memoryview(buf) as m:
        if m.readonly:
            raise TypeError("argument must be a writable contiguous byte buffer: read-only buffer")
        n = m.nbytes
    if pos < 0 or n - pos < RECORD_BATCH_OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, _SHORT)
    return n


def patch(buf, pos: int, base_offset: int, partition_leader_epoch: int) -> None:
    _writable(buf, pos)
    _I64.pack_into(buf, pos, base_offset)
    _I32.pack_into(buf, pos + OFF_PARTITION_LEADER_EPOCH, partition_leader_epoch)


def set_log_append_time(buf, pos: int, timestamp: int) -> None:
    n = _writable(buf, pos)
    length = _I32.unpack_from(buf, pos + OFF_BATCH_LENGTH)[0]
    if length < _MIN_BATCH_LENGTH or pos + length + LOG_OVERHEAD > n:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"batch length {length} does not fit")
    attributes = _I16.unpack_from(buf, pos + OFF_ATTRIBUTES)[0] | TIMESTAMP_TYPE_MASK
    _I16.pack_into(buf, pos + OFF_ATTRIBUTES, attributes)
    _I64.pack_into(buf, pos + OFF_MAX_TIMESTAMP, timestamp)
    _U32.pack_into(buf, pos + OFF_CRC, _crc(buf, pos + OFF_ATTRIBUTES, pos + LOG_OVERHEAD + length))


def scan(buf, pos: int = 0, end: int = -1, check_crc: bool = True):
    """Walk whole batches from ``pos``; stop at the first that is short, not magic 2 or bad.

    Returns ``(valid_end, batches)`` with one ``(pos, base_offset, last_offset, max_timestamp,
    size)`` tuple per valid batch: what log recovery and index rebuilding need. An ``end`` past
    the buffer is clamped to it: recovery asks for the valid prefix of whatever exists.
    """
    if pos < 0:
        raise ValueError(f"negative scan position {pos}")
    if end < 0 or end > len(buf):
        end = len(buf)
    out = []
    while end - pos >= RECORD_BATCH_OVERHEAD:
        h, err = _frame(buf, pos, end, check_crc)
        if err is not None:
            break
        assert h is not None  # _frame gives a header or an error
        size = h.batch_length + LOG_OVERHEAD
        out.append((pos, h.base_offset, h.base_offset + h.last_offset_delta, h.max_timestamp, size))
        pos += size
    return pos, out
