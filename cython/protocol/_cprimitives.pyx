# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython twin of hpbroker/protocol/_pyprimitives.py: Kafka's primitive wire types.

Byte layout and contract: see the pure twin, the reference the parity tests compare against.
Every function borrows the caller's buffer through the buffer protocol (bytes, bytearray,
memoryview, mmap) for the duration of the call only; ``bytes`` readers return slices of the
object passed in (zero-copy when it is a memoryview).
"""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int16_t, int32_t, uint8_t, uint32_t, uint64_t

from hpbroker.protocol.errors import ProtocolError


cdef inline int16_t _i16(const uint8_t* p) noexcept nogil:
    return <int16_t>((<uint32_t>p[0] << 8) | <uint32_t>p[1])

cdef inline int32_t _i32(const uint8_t* p) noexcept nogil:
    return <int32_t>((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) |
                     (<uint32_t>p[2] << 8) | <uint32_t>p[3])


cdef inline object _utf8(const uint8_t* p, Py_ssize_t n):
    try:
        return PyUnicode_DecodeUTF8(<const char*>p, n, NULL)
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"invalid UTF-8 in string: {exc}") from None


cdef inline Py_ssize_t _uvarint(const uint8_t* p, Py_ssize_t n, Py_ssize_t pos,
                                uint64_t* out) except -1:
    cdef uint64_t result = 0
    cdef int shift = 0
    cdef uint8_t b
    while True:
        if pos >= n:
            raise ProtocolError("unsigned varint truncated")
        b = p[pos]
        pos += 1
        result |= (<uint64_t>(b & 0x7F)) << shift
        if not (b & 0x80):
            out[0] = result
            return pos
        shift += 7
        if shift >= 35:
            raise ProtocolError("unsigned varint longer than 5 bytes")


_NO_FLEXIBLE = {}


def read_request_header(buf, Py_ssize_t pos):
    """Request header v1 fields -> (api_key, api_version, correlation_id, client_id, pos)."""
    return read_request_header_full(buf, pos, _NO_FLEXIBLE)


def read_uvarint(buf, Py_ssize_t pos):
    cdef Py_buffer view
    cdef uint64_t value
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        if pos < 0:
            raise ProtocolError("negative position")
        pos = _uvarint(<const uint8_t*>view.buf, view.len, pos, &value)
        return value, pos
    finally:
        PyBuffer_Release(&view)


def write_uvarint(value):
    cdef unsigned char out[5]
    cdef int i = 0
    cdef uint64_t v
    if value < 0 or value > 0xFFFFFFFF:
        raise ValueError(f"unsigned varint out of range: {value}")
    v = value
    while v >= 0x80:
        out[i] = <unsigned char>((v & 0x7F) | 0x80)
        v >>= 7
        i += 1
    out[i] = <unsigned char>v
    return PyBytes_FromStringAndSize(<char*>out, i + 1)


def read_string(buf, Py_ssize_t pos):
    cdef Py_buffer view
    cdef const uint8_t* p
    cdef int16_t n
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        p = <const uint8_t*>view.buf
        if pos < 0 or view.len - pos < 2:
            raise ProtocolError("string length truncated")
        n = _i16(p + pos)
        pos += 2
        if n < 0:
            if n != -1:
                raise ProtocolError(f"negative string length {n}")
            return None, pos
        if pos + n > view.len:
            raise ProtocolError(f"string of {n} bytes exceeds the frame")
        return _utf8(p + pos, n), pos + n
    finally:
        PyBuffer_Release(&view)


def read_compact_string(buf, Py_ssize_t pos):
    cdef Py_buffer view
    cdef const uint8_t* p
    cdef uint64_t n
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        p = <const uint8_t*>view.buf
        if pos < 0:
            raise ProtocolError("negative position")
        pos = _uvarint(p, view.len, pos, &n)
        if n == 0:
            return None, pos
        if <uint64_t>(view.len - pos) < n - 1:
            raise ProtocolError(f"compact string of {n - 1} bytes exceeds the frame")
        return _utf8(p + pos, <Py_ssize_t>(n - 1)), pos + <Py_ssize_t>(n - 1)
    finally:
        PyBuffer_Release(&view)


def read_bytes(buf, Py_ssize_t pos):
    cdef Py_buffer view
    cdef int32_t n
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        if pos < 0 or view.len - pos < 4:
            raise ProtocolError("bytes length truncated")
        n = _i32(<const uint8_t*>view.buf + pos)
        pos += 4
        if n < 0:
            if n != -1:
                raise ProtocolError(f"negative bytes length {n}")
            return None, pos
        if pos + n > view.len:
            raise ProtocolError(f"bytes of length {n} exceed the frame")
    finally:
        PyBuffer_Release(&view)
    return buf[pos:pos + n], pos + n


def read_compact_bytes(buf, Py_ssize_t pos):
    cdef Py_buffer view
    cdef uint64_t n
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        if pos < 0:
            raise ProtocolError("negative position")
        pos = _uvarint(<const uint8_t*>view.buf, view.len, pos, &n)
        if n == 0:
            return None, pos
        if <uint64_t>(view.len - pos) < n - 1:
            raise ProtocolError(f"compact bytes of length {n - 1} exceed the frame")
    finally:
        PyBuffer_Release(&view)
    return buf[pos:pos + <Py_ssize_t>(n - 1)], pos + <Py_ssize_t>(n - 1)


def read_count(buf, Py_ssize_t pos, Py_ssize_t min_size):
    cdef Py_buffer view
    cdef int32_t n
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        if pos < 0 or view.len - pos < 4:
            raise ProtocolError("array count truncated")
        n = _i32(<const uint8_t*>view.buf + pos)
        pos += 4
        if n < 0:
            if n != -1:
                raise ProtocolError(f"negative array count {n}")
            return -1, pos
        if <uint64_t>n * <uint64_t>min_size > <uint64_t>(view.len - pos):
            raise ProtocolError(f"array of {n} elements exceeds the frame")
        return n, pos
    finally:
        PyBuffer_Release(&view)


def read_compact_count(buf, Py_ssize_t pos, Py_ssize_t min_size):
    cdef Py_buffer view
    cdef uint64_t n
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        if pos < 0:
            raise ProtocolError("negative position")
        pos = _uvarint(<const uint8_t*>view.buf, view.len, pos, &n)
        if n == 0:
            return -1, pos
        n -= 1
        if n > 0 and n * <uint64_t>min_size > <uint64_t>(view.len - pos):
            raise ProtocolError(f"compact array of {n} elements exceeds the frame")
        return n, pos
    finally:
        PyBuffer_Release(&view)


cdef Py_ssize_t _skip_tags(const uint8_t* p, Py_ssize_t n, Py_ssize_t pos) except -1:
    """Skip a tagged-field section (uvarint count, then tag, size, data each)."""
    cdef uint64_t count, i, tag, size
    pos = _uvarint(p, n, pos, &count)
    i = 0
    while i < count:
        pos = _uvarint(p, n, pos, &tag)
        pos = _uvarint(p, n, pos, &size)
        if size > <uint64_t>(n - pos):
            raise ProtocolError("tagged field exceeds the frame")
        pos += <Py_ssize_t>size
        i += 1
    return pos


def skip_tagged_fields(buf, Py_ssize_t pos):
    cdef Py_buffer view
    cdef const uint8_t* p
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        p = <const uint8_t*>view.buf
        if pos < 0:
            raise ProtocolError("negative position")
        pos = _skip_tags(p, view.len, pos)
        return pos
    finally:
        PyBuffer_Release(&view)


def read_request_header_full(buf, Py_ssize_t pos, dict first_flexible):
    cdef Py_buffer view
    cdef const uint8_t* p
    cdef int16_t api_key, api_version, n
    cdef int32_t correlation_id
    cdef object client_id = None
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        p = <const uint8_t*>view.buf
        if pos < 0 or view.len - pos < 10:
            raise ProtocolError("request header truncated")
        api_key = _i16(p + pos)
        api_version = _i16(p + pos + 2)
        correlation_id = _i32(p + pos + 4)
        n = _i16(p + pos + 8)
        pos += 10
        if n < 0:
            if n != -1:
                raise ProtocolError(f"negative client_id length {n}")
        else:
            if pos + n > view.len:
                raise ProtocolError("client_id exceeds the frame")
            client_id = _utf8(p + pos, n)
            pos += n
        flex = first_flexible.get(api_key)
        if flex is not None and api_version >= flex:
            pos = _skip_tags(p, view.len, pos)
        return api_key, api_version, correlation_id, client_id, pos
    finally:
        PyBuffer_Release(&view)
