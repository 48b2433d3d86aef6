# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython twin of hpbroker/records/_pybatch.py: RecordBatch v2 header checks and in-place patches.

Byte layout: hpbroker/records/layout.py. Works on any C-contiguous byte buffer (bytes, bytearray,
mmap, memoryview slices) through the buffer protocol. The passes over record bytes are the CRC-32C
(the crc32c library's hardware path, handed a memoryview built straight from the pointer) and,
for uncompressed batches, a walk over the records' length varints that counts them; both run here,
never in Python. Error codes and messages match the twin exactly (the parity tests compare them).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.memoryview cimport PyMemoryView_FromMemory
from libc.string cimport memcpy
from cpython.buffer cimport PyBUF_READ
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from crc32c import crc32c as _crc32c

from hpbroker.records.layout import BatchHeader, InvalidRecordBatch

cdef int CORRUPT_MESSAGE = 2
cdef int INVALID_RECORD = 87
cdef Py_ssize_t OVERHEAD = 61
cdef Py_ssize_t LOG_OVERHEAD = 12
cdef int32_t MIN_BATCH_LENGTH = 49
cdef int MIN_RECORD_BODY = 6  # attributes + five one-byte varints

# Outcome of the frame check, shared by validate (which raises) and scan (which stops)
cdef enum:
    FRAME_OK = 0
    FRAME_SHORT = 1
    FRAME_MAGIC = 2
    FRAME_LENGTH = 3
    FRAME_CRC = 4


cdef inline uint64_t _u64(const uint8_t* p) noexcept nogil:
    return ((<uint64_t>p[0] << 56) | (<uint64_t>p[1] << 48) | (<uint64_t>p[2] << 40) |
            (<uint64_t>p[3] << 32) | (<uint64_t>p[4] << 24) | (<uint64_t>p[5] << 16) |
            (<uint64_t>p[6] << 8) | <uint64_t>p[7])

cdef inline uint32_t _u32(const uint8_t* p) noexcept nogil:
    return ((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3])

cdef inline int16_t _i16(const uint8_t* p) noexcept nogil:
    return <int16_t>((<uint32_t>p[0] << 8) | <uint32_t>p[1])

cdef inline void _put_u64(uint8_t* p, uint64_t v) noexcept nogil:
    cdef int i
    for i in range(8):
        p[7 - i] = <uint8_t>(v & 0xFF)
        v >>= 8

cdef inline void _put_u32(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 24); p[1] = <uint8_t>(v >> 16); p[2] = <uint8_t>(v >> 8); p[3] = <uint8_t>v


cdef object _header(const uint8_t* p):
    return BatchHeader(
        <int64_t>_u64(p), <int32_t>_u32(p + 8), <int32_t>_u32(p + 12), <signed char>p[16],
        _u32(p + 17), _i16(p + 21), <int32_t>_u32(p + 23), <int64_t>_u64(p + 27),
        <int64_t>_u64(p + 35), <int64_t>_u64(p + 43), _i16(p + 51), <int32_t>_u32(p + 53),
        <int32_t>_u32(p + 57))


cdef inline uint32_t _crc(const uint8_t* p, Py_ssize_t n) except? 0:
    # A read-only memoryview over the pointer: no copy, no slice of a Python-level view
    return _crc32c(PyMemoryView_FromMemory(<char*>p, n, PyBUF_READ))


cdef int _frame(const uint8_t* base, Py_ssize_t pos, Py_ssize_t end, bint check_crc) except -1:
    """Length, magic and (optionally) CRC of the batch at pos, which must end at or before end."""
    cdef const uint8_t* p
    cdef int32_t length
    if end - pos < OVERHEAD:
        return FRAME_SHORT
    p = base + pos
    if p[16] != 2:
        return FRAME_MAGIC
    length = <int32_t>_u32(p + 8)
    # int64 arithmetic: a hostile batchLength near INT32_MAX must not wrap
    if length < MIN_BATCH_LENGTH or <int64_t>pos + length + LOG_OVERHEAD > end:
        return FRAME_LENGTH
    if check_crc and _crc(p + 21, length + LOG_OVERHEAD - 21) != _u32(p + 17):
        return FRAME_CRC
    return FRAME_OK


cdef int _raise_frame(int code, const uint8_t* p, Py_ssize_t pos, Py_ssize_t end) except -1:
    cdef uint32_t stored
    if code == FRAME_SHORT:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    if code == FRAME_MAGIC:
        # Produce v3+ accepts magic 2 only (Kafka's ProduceRequest.validateRecords)
        raise InvalidRecordBatch(INVALID_RECORD, f"unsupported magic {<signed char>p[16]}")
    if code == FRAME_LENGTH:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"batch length {<int32_t>_u32(p + 8)} does not fit")
    stored = _u32(p + 17)
    computed = _crc(p + 21, <int32_t>_u32(p + 8) + LOG_OVERHEAD - 21)
    raise InvalidRecordBatch(CORRUPT_MESSAGE, f"CRC mismatch: stored {stored:#x}, computed {computed:#x}")


cdef inline Py_ssize_t _skip_varint(const uint8_t* p, Py_ssize_t pos, Py_ssize_t end,
                                    int64_t* value) noexcept nogil:
    """Zig-zag varint32 at pos (at most 5 bytes, as Kafka's readVarint); new pos or -1."""
    cdef uint64_t raw = 0
    cdef int shift = 0
    cdef uint8_t b
    while pos < end and shift <= 28:
        b = p[pos]
        pos += 1
        raw |= <uint64_t>(b & 0x7F) << shift
        if not b & 0x80:
            raw = <uint32_t>raw
            value[0] = <int64_t>(<int32_t>((raw >> 1) ^ (-(<int64_t>(raw & 1)))))
            return pos
        shift += 7
    return -1


cdef inline Py_ssize_t _skip_varlong(const uint8_t* p, Py_ssize_t pos, Py_ssize_t end) noexcept nogil:
    """Past the zig-zag varlong at pos (at most 10 bytes); new pos or -1."""
    cdef int i
    for i in range(10):
        if pos >= end:
            return -1
        if not p[pos] & 0x80:
            return pos + 1
        pos += 1
    return -1


cdef int _records_fill(const uint8_t* p, Py_ssize_t pos, Py_ssize_t end, int64_t count,
                       bint offset_deltas=False) noexcept nogil:
    """1 when exactly ``count`` length-prefixed records fill [pos, end) of an uncompressed batch;
    with ``offset_deltas`` the i-th record's offsetDelta must also be i (its layout: length,
    attributes int8, timestampDelta varlong, offsetDelta varint, ...)."""
    cdef int64_t length, delta, n = 0
    cdef Py_ssize_t q
    while n < count:
        pos = _skip_varint(p, pos, end, &length)
        if pos < 0 or length < MIN_RECORD_BODY or length > end - pos:
            return 0
        if offset_deltas:
            q = _skip_varlong(p, pos + 1, pos + length)
            if q < 0 or _skip_varint(p, q, pos + length, &delta) < 0 or delta != n:
                return 0
        pos += length
        n += 1
    return pos == end


def records_fill(buf, int64_t count, bint offset_deltas=False):
    """True when exactly ``count`` length-prefixed records fill ``buf`` (a decompressed payload);
    with ``offset_deltas``, also when their offsetDeltas run 0, 1, ..., count - 1."""
    cdef const uint8_t[::1] v = buf
    if count < 0:
        return False
    if v.shape[0] == 0:
        return count == 0
    return bool(_records_fill(&v[0], 0, v.shape[0], count, offset_deltas))


cdef inline Py_ssize_t _read_varlong(const uint8_t* p, Py_ssize_t pos, Py_ssize_t end,
                                     int64_t* value) noexcept nogil:
    """Zig-zag varlong at pos (at most 10 bytes); new pos or -1."""
    cdef uint64_t raw = 0
    cdef int shift = 0
    cdef uint8_t b
    while pos < end and shift < 70:
        b = p[pos]
        pos += 1
        raw |= <uint64_t>(b & 0x7F) << shift
        if not b & 0x80:
            value[0] = <int64_t>((raw >> 1) ^ (-(raw & 1)))
            return pos
        shift += 7
    return -1


cdef struct RecordFields:
    Py_ssize_t end
    int64_t ts_delta
    int64_t offset_delta
    Py_ssize_t key_at
    int64_t key_length
    int64_t value_length


cdef inline int _record_fields(const uint8_t* p, Py_ssize_t pos, Py_ssize_t end,
                               RecordFields* f) noexcept nogil:
    """One record at pos (layout: length varint, attributes int8, timestampDelta varlong,
    offsetDelta varint, keyLength varint, key, valueLength varint, ...); 0 if it does not parse."""
    cdef int64_t length
    cdef Py_ssize_t q
    pos = _skip_varint(p, pos, end, &length)
    if pos < 0 or length < MIN_RECORD_BODY or length > end - pos:
        return 0
    f.end = pos + length
    q = _read_varlong(p, pos + 1, f.end, &f.ts_delta)
    if q < 0:
        return 0
    q = _skip_varint(p, q, f.end, &f.offset_delta)
    if q < 0:
        return 0
    q = _skip_varint(p, q, f.end, &f.key_length)
    if q < 0 or f.key_length > f.end - q:
        return 0
    f.key_at = q
    if f.key_length > 0:
        q += f.key_length
    q = _skip_varint(p, q, f.end, &f.value_length)
    if q < 0 or f.value_length > f.end - q:
        return 0
    return 1


def keyless_records(buf, int64_t count, Py_ssize_t pos=0):
    """Indexes, ascending, of the ``count`` records at ``pos`` whose key is null (keyLength -1):
    [] when every record has a key, None if the records do not parse (``_record_fields``)."""
    cdef const uint8_t[::1] v = buf
    cdef Py_ssize_t end = v.shape[0]
    cdef int64_t n
    cdef RecordFields f
    cdef list out = []
    if count <= 0:
        return out
    if pos < 0 or pos >= end:
        return None
    for n in range(count):
        if not _record_fields(&v[0], pos, end, &f):
            return None
        if f.key_length < 0:
            out.append(n)
        pos = f.end
    return out


def records_outside_time(buf, int64_t count, Py_ssize_t pos, int64_t base_timestamp, int64_t low,
                         int64_t high):
    """(index, timestamp, offsetDelta) of each of the ``count`` records at ``pos`` whose timestamp
    (baseTimestamp + timestampDelta, wrapping as a Java long) lies outside [low, high], ascending;
    a record without a timestamp (-1) is never outside. [] when all are within, None if the
    records do not parse (``_record_fields``)."""
    cdef const uint8_t[::1] v = buf
    cdef Py_ssize_t end = v.shape[0]
    cdef int64_t n, ts
    cdef RecordFields f
    cdef list out = []
    if count <= 0:
        return out
    if pos < 0 or pos >= end:
        return None
    for n in range(count):
        if not _record_fields(&v[0], pos, end, &f):
            return None
        ts = <int64_t>(<uint64_t>base_timestamp + <uint64_t>f.ts_delta)
        if ts != -1 and (ts < low or ts > high):
            out.append((n, ts, f.offset_delta))
        pos = f.end
    return out


def record_keys(buf, int64_t count, Py_ssize_t pos, int64_t base_offset, dict latest):
    """The cleaner's offset map: for each of ``count`` records at ``pos`` that has a key,
    ``latest[key] = base_offset + offsetDelta`` (a later record of the key overwrites). Returns
    how many records had a key, -2 if the records do not parse."""
    cdef const uint8_t[::1] v = buf
    cdef const uint8_t* p
    cdef Py_ssize_t end = v.shape[0]
    cdef int64_t n, keyed = 0
    cdef RecordFields f
    if count <= 0:
        return 0
    if pos < 0 or pos >= end:
        return -2
    p = &v[0]
    for n in range(count):
        if not _record_fields(p, pos, end, &f):
            return -2
        if f.key_length >= 0:
            latest[PyBytes_FromStringAndSize(<const char*>(p + f.key_at), f.key_length)] = base_offset + f.offset_delta
            keyed += 1
        pos = f.end
    return keyed


def retain_records(buf, int64_t count, Py_ssize_t pos, int64_t base_offset, int64_t base_timestamp,
                   dict latest, bint drop_tombstones):
    """The records of one batch that compaction keeps, verbatim and in order: (their bytes,
    how many, the largest of their timestamps or -1). A record goes when it has no key, when
    ``latest`` maps its key to a later offset, or when it is a tombstone (null value) and
    ``drop_tombstones``. None if the records do not parse."""
    cdef const uint8_t[::1] v = buf
    cdef const uint8_t* p
    cdef Py_ssize_t end = v.shape[0], start, total = 0, i, kept = 0
    cdef int64_t n, max_ts = -1, ts
    cdef RecordFields f
    cdef Py_ssize_t* spans
    cdef object later, key, out
    cdef char* dst
    if count <= 0:
        return b"", 0, -1
    if pos < 0 or pos >= end:
        return None
    p = &v[0]
    spans = <Py_ssize_t*> PyMem_Malloc(2 * count * sizeof(Py_ssize_t))
    if spans == NULL:
        raise MemoryError()
    try:
        for n in range(count):
            start = pos
            if not _record_fields(p, pos, end, &f):
                return None
            pos = f.end
            if f.key_length < 0:
                continue
            key = PyBytes_FromStringAndSize(<const char*>(p + f.key_at), f.key_length)
            later = latest.get(key)
            if later is not None and <int64_t>later > base_offset + f.offset_delta:
                continue
            if f.value_length < 0 and drop_tombstones:
                continue
            spans[2 * kept] = start
            spans[2 * kept + 1] = f.end
            kept += 1
            total += f.end - start
            ts = base_timestamp + f.ts_delta
            if ts > max_ts:
                max_ts = ts
        out = PyBytes_FromStringAndSize(NULL, total)
        dst = PyBytes_AS_STRING(out)
        for i in range(kept):
            memcpy(dst, p + spans[2 * i], spans[2 * i + 1] - spans[2 * i])
            dst += spans[2 * i + 1] - spans[2 * i]
        return out, kept, max_ts
    finally:
        PyMem_Free(spans)


def read_header(buf, Py_ssize_t pos=0):
    cdef const uint8_t[::1] v = buf
    if pos < 0 or v.shape[0] - pos < OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    return _header(&v[pos])


def validate(buf, Py_ssize_t pos=0, Py_ssize_t end=-1):
    cdef const uint8_t[::1] v = buf
    cdef const uint8_t* p
    cdef int code
    cdef int32_t length, count, delta
    cdef int16_t attributes
    if end < 0:
        end = v.shape[0]
    if pos < 0 or end > v.shape[0]:
        raise ValueError(f"batch range [{pos}, {end}) lies outside a buffer of {v.shape[0]} bytes")
    if end - pos < OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    p = &v[pos]
    code = _frame(&v[0], pos, end, True)
    if code != FRAME_OK:
        _raise_frame(code, p, pos, end)
    length = <int32_t>_u32(p + 8)
    if pos + length + LOG_OVERHEAD != end:
        raise InvalidRecordBatch(INVALID_RECORD, "exactly one record batch per partition is allowed")
    attributes = _i16(p + 21)
    if attributes & 0x07 > 4:
        # Kafka fails such a batch with an IllegalArgumentException (UNKNOWN_SERVER_ERROR); the
        # bytes cannot be decoded, so the producer hears CORRUPT_MESSAGE
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"unknown compression codec {attributes & 0x07}")
    count = <int32_t>_u32(p + 57)
    delta = <int32_t>_u32(p + 23)
    if count <= 0 or <int64_t>delta + 1 != count:
        raise InvalidRecordBatch(
            INVALID_RECORD, f"records count {count} does not match last offset delta {delta}")
    if attributes & 0x20:
        raise InvalidRecordBatch(INVALID_RECORD, "clients may not send control batches")
    if <int64_t>_u64(p + 43) >= 0 and <int32_t>_u32(p + 53) < 0:
        raise InvalidRecordBatch(INVALID_RECORD, "idempotent batch without a base sequence")
    if attributes & 0x07 == 0 and not _records_fill(p, OVERHEAD, length + LOG_OVERHEAD, count):
        # Kafka walks uncompressed records on append and rejects a count that does not match
        raise InvalidRecordBatch(INVALID_RECORD, f"records do not fill the batch as its count {count} says")
    return _header(p)


cdef uint8_t[::1] _writable(object buf) except *:
    cdef uint8_t[::1] v
    try:
        v = buf
    except (ValueError, BufferError, TypeError) as exc:
        raise TypeError(f"argument must be a writable contiguous byte buffer: {exc}") from None
    return v


def patch(buf, Py_ssize_t pos, int64_t base_offset, int32_t partition_leader_epoch):
    cdef uint8_t[::1] v = _writable(buf)
    if pos < 0 or v.shape[0] - pos < OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    _put_u64(&v[pos], <uint64_t>base_offset)
    _put_u32(&v[pos + 12], <uint32_t>partition_leader_epoch)


def set_log_append_time(buf, Py_ssize_t pos, int64_t timestamp):
    cdef uint8_t[::1] v = _writable(buf)
    cdef int32_t length
    cdef int16_t attrs
    if pos < 0 or v.shape[0] - pos < OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    length = <int32_t>_u32(&v[pos + 8])
    if length < MIN_BATCH_LENGTH or <int64_t>pos + length + LOG_OVERHEAD > v.shape[0]:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"batch length {length} does not fit")
    attrs = _i16(&v[pos + 21]) | 0x08
    v[pos + 21] = <uint8_t>((<uint16_t>attrs) >> 8)
    v[pos + 22] = <uint8_t>(attrs & 0xFF)
    _put_u64(&v[pos + 35], <uint64_t>timestamp)
    _put_u32(&v[pos + 17], _crc(&v[pos + 21], length + LOG_OVERHEAD - 21))


def scan(buf, Py_ssize_t pos=0, Py_ssize_t end=-1, bint check_crc=True):
    cdef const uint8_t[::1] v = buf
    cdef const uint8_t* p
    cdef int32_t length
    cdef int64_t base
    if pos < 0:
        raise ValueError(f"negative scan position {pos}")
    if end < 0 or end > v.shape[0]:
        end = v.shape[0]
    out = []
    while end - pos >= OVERHEAD:
        if _frame(&v[0], pos, end, check_crc) != FRAME_OK:
            break
        p = &v[pos]
        length = <int32_t>_u32(p + 8)
        base = <int64_t>_u64(p)
        out.append((pos, base, base + <int32_t>_u32(p + 23), <int64_t>_u64(p + 35), length + LOG_OVERHEAD))
        pos += length + LOG_OVERHEAD
    return pos, out
