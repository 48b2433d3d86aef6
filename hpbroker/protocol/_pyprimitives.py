"""Pure-Python twin of cython/protocol/_cprimitives.pyx: Kafka's primitive wire types.

Byte layout (big-endian throughout)::

    frame            int32 size, then `size` bytes (header + body)
    request header   v1: api_key int16 | api_version int16 | correlation_id int32 |
                         client_id int16 length + UTF-8 (-1 = null)
                     v2: v1 + tagged-field section (client_id keeps its int16 length)
    string           int16 length + UTF-8, -1 = null
    bytes/records    int32 length + data, -1 = null
    array            int32 count + elements, -1 = null
    compact string/bytes/array   uvarint (N + 1) + data, 0 = null
    uvarint          7 bits per byte, low group first, high bit = more (at most 5 bytes)
    tagged section   uvarint count, then per field uvarint tag + uvarint size + data

Every reader takes (buffer, position) and returns (value, new position). Lengths and counts
are checked against the bytes that remain *before* anything is allocated, so a hostile frame
costs at most its own size. ``bytes`` readers return slices of the buffer they are given: pass a
memoryview to get zero-copy views. The compiled twin must behave identically, errors included
(tests/protocol/test_primitives.py).
"""

from __future__ import annotations

import struct

from hpbroker.protocol.errors import ProtocolError

_HEADER = struct.Struct(">hhih")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_HEADER_SIZE = 10


def read_request_header(buf, pos):
    """Request header v1 fields at ``pos`` -> (api_key, api_version, correlation_id,
    client_id, position after client_id). The v2 tagged section is left to the caller."""
    if pos < 0 or len(buf) - pos < _HEADER_SIZE:
        raise ProtocolError("request header truncated")
    api_key, api_version, correlation_id, n = _HEADER.unpack_from(buf, pos)
    pos += _HEADER_SIZE
    if n < 0:
        if n != -1:
            raise ProtocolError(f"negative client_id length {n}")
        return api_key, api_version, correlation_id, None, pos
    end = pos + n
    if end > len(buf):
        raise ProtocolError("client_id exceeds the frame")
    return api_key, api_version, correlation_id, _utf8(buf[pos:end]), end


def _utf8(raw):
    try:
        return str(raw, "utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"invalid UTF-8 in string: {exc}") from None


def read_uvarint(buf, pos):
    if pos < 0:
        raise ProtocolError("negative position")
    result = 0
    shift = 0
    n = len(buf)
    while True:
        if pos >= n:
            raise ProtocolError("unsigned varint truncated")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 35:
            raise ProtocolError("unsigned varint longer than 5 bytes")


def write_uvarint(value):
    if value < 0 or value > 0xFFFFFFFF:
        raise ValueError(f"unsigned varint out of range: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_string(buf, pos):
    if pos < 0 or len(buf) - pos < 2:
        raise ProtocolError("string length truncated")
    (n,) = _I16.unpack_from(buf, pos)
    pos += 2
    if n < 0:
        if n != -1:
            raise ProtocolError(f"negative string length {n}")
        return None, pos
    end = pos + n
    if end > len(buf):
        raise ProtocolError(f"string of {n} bytes exceeds the frame")
    return _utf8(buf[pos:end]), end


def read_compact_string(buf, pos):
    n, pos = read_uvarint(buf, pos)
    if n == 0:
        return None, pos
    end = pos + n - 1
    if end > len(buf):
        raise ProtocolError(f"compact string of {n - 1} bytes exceeds the frame")
    return _utf8(buf[pos:end]), end


def read_bytes(buf, pos):
    if pos < 0 or len(buf) - pos < 4:
        raise ProtocolError("bytes length truncated")
    (n,) = _I32.unpack_from(buf, pos)
    pos += 4
    if n < 0:
        if n != -1:
            raise ProtocolError(f"negative bytes length {n}")
        return None, pos
    end = pos + n
    if end > len(buf):
        raise ProtocolError(f"bytes of length {n} exceed the frame")
    return buf[pos:end], end


def read_compact_bytes(buf, pos):
    n, pos = read_uvarint(buf, pos)
    if n == 0:
        return None, pos
    end = pos + n - 1
    if end > len(buf):
        raise ProtocolError(f"compact bytes of length {n - 1} exceed the frame")
    return buf[pos:end], end


def read_count(buf, pos, min_size):
    """int32 array count (-1 = null) whose elements of at least ``min_size`` bytes fit."""
    if pos < 0 or len(buf) - pos < 4:
        raise ProtocolError("array count truncated")
    (n,) = _I32.unpack_from(buf, pos)
    pos += 4
    if n < 0:
        if n != -1:
            raise ProtocolError(f"negative array count {n}")
        return -1, pos
    if n * min_size > len(buf) - pos:
        raise ProtocolError(f"array of {n} elements exceeds the frame")
    return n, pos


def read_compact_count(buf, pos, min_size):
    """uvarint (count + 1) (0 = null) whose elements of at least ``min_size`` bytes fit."""
    n, pos = read_uvarint(buf, pos)
    n -= 1
    if n > 0 and n * min_size > len(buf) - pos:
        raise ProtocolError(f"compact array of {n} elements exceeds the frame")
    return n, pos


def skip_tagged_fields(buf, pos):
    """Skip a whole tagged-field section (e.g. the one of request header v2)."""
    count, pos = read_uvarint(buf, pos)
    for _ in range(count):
        _, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        pos += size
        if pos > len(buf):
            raise ProtocolError("tagged field exceeds the frame")
    return pos


def read_request_header_full(buf, pos, first_flexible):
    """Whole request header: v1 fields, plus the v2 tagged section when ``api_version`` is at
    or above ``first_flexible[api_key]`` -> (api_key, api_version, correlation_id, client_id,
    body position). One call for the server's hottest decode."""
    api_key, api_version, correlation_id, client_id, pos = read_request_header(buf, pos)
    flex = first_flexible.get(api_key)
    if flex is not None and api_version >= flex:
        pos = skip_tagged_fields(buf, pos)
    return api_key, api_version, correlation_id, client_id, pos
