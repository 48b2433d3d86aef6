"""Records inside a RecordBatch v2: encode and decode (byte layout below).

Record layout (varints are zig-zag, 7 bits a byte, as Kafka's ByteUtils)::

    length          varint   bytes after this field
    attributes      int8     unused, 0
    timestampDelta  varlong  vs the batch's baseTimestamp
    offsetDelta     varint   vs the batch's baseOffset
    keyLength       varint   -1 = null key
    key             bytes
    valueLength     varint   -1 = null value
    value           bytes
    headerCount     varint
    headers         [keyLength varint, key UTF-8, valueLength varint (-1 null), value]

This is per-record Python: used for internal topics, tools and tests, never on the produce or
fetch path, where batches move as opaque byte ranges.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from hpbroker.records.compression import decompress
from hpbroker.records.layout import (
    CODEC_MASK,
    CORRUPT_MESSAGE,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_MASK,
    BatchHeader,
    InvalidRecordBatch,
)


@dataclass
class Record:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)


def write_varint(out: bytearray, value: int) -> None:
    v = (value << 1) ^ (value >> 63)  # zig-zag (int64)
    v &= 0xFFFFFFFFFFFFFFFF
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def read_varint(buf, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise InvalidRecordBatch(CORRUPT_MESSAGE, "varint runs past the end of the record")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise InvalidRecordBatch(CORRUPT_MESSAGE, "varint longer than 10 bytes")
    return (result >> 1) ^ -(result & 1), pos


def _write_bytes(out: bytearray, data: bytes | None) -> None:
    if data is None:
        write_varint(out, -1)
    else:
        write_varint(out, len(data))
        out += data


def encode_record(offset_delta: int, timestamp_delta: int, key, value, headers=()) -> bytes:
    body = bytearray(b"\x00")
    write_varint(body, timestamp_delta)
    write_varint(body, offset_delta)
    _write_bytes(body, key)
    _write_bytes(body, value)
    write_varint(body, len(headers))
    for hk, hv in headers:
        _write_bytes(body, hk.encode() if isinstance(hk, str) else hk)
        _write_bytes(body, hv)
    out = bytearray()
    write_varint(out, len(body))
    return bytes(out + body)


def _read_bytes(buf, pos: int, end: int):
    n, pos = read_varint(buf, pos)
    if n < 0:
        return None, pos
    if pos + n > end:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record field runs past the end of the record")
    return bytes(buf[pos : pos + n]), pos + n


def iter_records(header: BatchHeader, payload) -> Iterator[Record]:
    """Records of a batch whose header is ``header`` and bytes after byte 61 are ``payload``."""
    codec = header.attributes & CODEC_MASK
    data = decompress(codec, payload) if codec else payload
    log_append = bool(header.attributes & TIMESTAMP_TYPE_MASK)
    pos = 0
    for _ in range(header.records_count):
        length, pos = read_varint(data, pos)
        end = pos + length
        if length < 0 or end > len(data):
            raise InvalidRecordBatch(CORRUPT_MESSAGE, "record length out of range")
        pos += 1  # attributes
        ts_delta, pos = read_varint(data, pos)
        off_delta, pos = read_varint(data, pos)
        key, pos = _read_bytes(data, pos, end)
        value, pos = _read_bytes(data, pos, end)
        n_headers, pos = read_varint(data, pos)
        headers = []
        for _h in range(max(n_headers, 0)):
            hk, pos = _read_bytes(data, pos, end)
            hv, pos = _read_bytes(data, pos, end)
            headers.append(((hk or b"").decode("utf-8", "replace"), hv))
        pos = end
        ts = header.max_timestamp if log_append else header.base_timestamp + ts_delta
        yield Record(header.base_offset + off_delta, ts, key, value, headers)


def iter_batch_records(buf, pos: int = 0) -> Iterator[Record]:
    """Records of the batch at ``pos`` in ``buf`` (header read, CRC not checked here)."""
    from hpbroker.records.batch import read_header

    h = read_header(buf, pos)
    end = pos + h.size
    return iter_records(h, memoryview(buf)[pos + RECORD_BATCH_OVERHEAD : end])
