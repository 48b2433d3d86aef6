# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython twin of hpbroker/records/_pybatch.py: RecordBatch v2 header checks and in-place patches.

Byte layout: hpbroker/records/layout.py. Works on any writable/readable buffer (bytearray, mmap,
memoryview) through the buffer protocol; the only pass over record bytes is the CRC-32C, done by
the crc32c library's hardware path with the GIL released.
"""
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from crc32c import crc32c as _crc32c

from hpbroker.records.layout import BatchHeader, InvalidRecordBatch

cdef int CORRUPT_MESSAGE = 2
cdef int INVALID_RECORD = 87
cdef Py_ssize_t OVERHEAD = 61
cdef Py_ssize_t LOG_OVERHEAD = 12
cdef int32_t MIN_BATCH_LENGTH = 49


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


def read_header(buf, Py_ssize_t pos=0):
    cdef const uint8_t[::1] v = buf
    if pos < 0 or v.shape[0] - pos < OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    return _header(&v[pos])


cdef int32_t _check_frame(const uint8_t[::1] v, object buf, Py_ssize_t pos, Py_ssize_t end) except -1:
    """Length, magic and CRC of the batch at pos; returns batchLength or raises."""
    cdef const uint8_t* p
    cdef int32_t length
    cdef uint32_t stored
    if pos < 0 or end - pos < OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    p = &v[pos]
    if p[16] != 2:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"unsupported magic {<signed char>p[16]}")
    length = <int32_t>_u32(p + 8)
    if length < MIN_BATCH_LENGTH or pos + length + LOG_OVERHEAD > end:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"batch length {length} does not fit")
    stored = _u32(p + 17)
    crc = _crc32c(memoryview(buf)[pos + 21: pos + LOG_OVERHEAD + length])
    if crc != stored:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"CRC mismatch: stored {stored:#x}, computed {crc:#x}")
    return length


def validate(buf, Py_ssize_t pos=0, Py_ssize_t end=-1):
    cdef const uint8_t[::1] v = buf
    cdef const uint8_t* p
    cdef int32_t length, count, delta
    if end < 0:
        end = v.shape[0]
    if end > v.shape[0]:
        end = v.shape[0]
    length = _check_frame(v, buf, pos, end)
    p = &v[pos]
    if pos + length + LOG_OVERHEAD != end:
        raise InvalidRecordBatch(INVALID_RECORD, "exactly one record batch per partition is allowed")
    count = <int32_t>_u32(p + 57)
    delta = <int32_t>_u32(p + 23)
    if count <= 0 or <int64_t>delta + 1 != count:
        raise InvalidRecordBatch(
            INVALID_RECORD, f"records count {count} does not match last offset delta {delta}")
    if _i16(p + 21) & 0x20:
        raise InvalidRecordBatch(INVALID_RECORD, "clients may not send control batches")
    if <int64_t>_u64(p + 43) >= 0 and <int32_t>_u32(p + 53) < 0:
        raise InvalidRecordBatch(INVALID_RECORD, "idempotent batch without a base sequence")
    return _header(p)


def patch(buf, Py_ssize_t pos, int64_t base_offset, int32_t partition_leader_epoch):
    cdef uint8_t[::1] v = buf
    if pos < 0 or v.shape[0] - pos < OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    _put_u64(&v[pos], <uint64_t>base_offset)
    _put_u32(&v[pos + 12], <uint32_t>partition_leader_epoch)


def set_log_append_time(buf, Py_ssize_t pos, int64_t timestamp):
    cdef uint8_t[::1] v = buf
    cdef int32_t length
    cdef int16_t attrs
    if pos < 0 or v.shape[0] - pos < OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    length = <int32_t>_u32(&v[pos + 8])
    if length < MIN_BATCH_LENGTH or pos + length + LOG_OVERHEAD > v.shape[0]:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"batch length {length} does not fit")
    attrs = _i16(&v[pos + 21]) | 0x08
    v[pos + 21] = <uint8_t>((<uint16_t>attrs) >> 8)
    v[pos + 22] = <uint8_t>(attrs & 0xFF)
    _put_u64(&v[pos + 35], <uint64_t>timestamp)
    _put_u32(&v[pos + 17], _crc32c(memoryview(buf)[pos + 21: pos + LOG_OVERHEAD + length]))


def scan(buf, Py_ssize_t pos=0, Py_ssize_t end=-1, bint check_crc=True):
    cdef const uint8_t[::1] v = buf
    cdef const uint8_t* p
    cdef int32_t length
    cdef int64_t base
    out = []
    if end < 0 or end > v.shape[0]:
        end = v.shape[0]
    while end - pos >= OVERHEAD:
        p = &v[pos]
        if check_crc:
            try:
                length = _check_frame(v, buf, pos, end)
            except InvalidRecordBatch:
                break
        else:
            length = <int32_t>_u32(p + 8)
            if p[16] != 2 or length < MIN_BATCH_LENGTH or pos + length + LOG_OVERHEAD > end:
                break
        base = <int64_t>_u64(p)
        out.append((pos, base, base + <int32_t>_u32(p + 23), <int64_t>_u64(p + 35), length + LOG_OVERHEAD))
        pos += length + LOG_OVERHEAD
    return pos, out
