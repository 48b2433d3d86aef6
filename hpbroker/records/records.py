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

This is per-record Python: used for internal topics, compaction, tools and tests, never on the
produce or fetch path, where batches move as opaque byte ranges.

Hostile input: every read is bounded by the record's own length, which is bounded by the
(decompressed) payload, itself bounded by ``max_size``; a records count larger than the payload
could hold is refused before the first record, so no count makes a loop run longer than the
bytes allow. Malformed records raise InvalidRecordBatch(CORRUPT_MESSAGE).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from hpbroker.records.compression import MAX_DECOMPRESSED, CompressionError, decompress
from hpbroker.records.layout import (
    CODEC_MASK,
    CORRUPT_MESSAGE,
    LOG_OVERHEAD,
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


def read_varint(buf, pos: int, end: int = -1) -> tuple[int, int]:
    """Zig-zag varlong at ``pos``, not reading at or past ``end``; returns (value, next pos)."""
    if end < 0:
        end = len(buf)
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise InvalidRecordBatch(CORRUPT_MESSAGE, "varint runs past the end of the record")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise InvalidRecordBatch(CORRUPT_MESSAGE, "varint longer than 10 bytes")
    result &= 0xFFFFFFFFFFFFFFFF  # a 10th byte may carry bits past 64: Java drops them too
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
    n, pos = read_varint(buf, pos, end)
    if n < 0:
        return None, pos
    if n > end - pos:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record field runs past the end of the record")
    return bytes(buf[pos : pos + n]), pos + n


# length varint + attributes + timestampDelta + offsetDelta + keyLength + valueLength + headerCount
_MIN_RECORD_SIZE = 7


def iter_records(header: BatchHeader, payload, max_size: int = MAX_DECOMPRESSED) -> Iterator[Record]:
    """Records of a batch whose header is ``header`` and bytes after byte 61 are ``payload``.

    ``max_size`` bounds the decompressed payload. Under LogAppendTime every record's timestamp
    is the batch's maxTimestamp, as Kafka's consumers read it.
    """
    codec = header.attributes & CODEC_MASK
    try:
        data = decompress(codec, payload, max_size) if codec else payload
    except CompressionError as exc:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, str(exc)) from exc
    count = header.records_count
    if count < 0 or count * _MIN_RECORD_SIZE > len(data):
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"records count {count} does not fit {len(data)} bytes")
    log_append = bool(header.attributes & TIMESTAMP_TYPE_MASK)
    size = len(data)
    pos = 0
    for _ in range(count):
        length, pos = read_varint(data, pos, size)
        if length < _MIN_RECORD_SIZE - 1 or length > size - pos:
            raise InvalidRecordBatch(CORRUPT_MESSAGE, f"record length {length} out of range")
        end = pos + length
        pos += 1  # attributes: unused
        ts_delta, pos = read_varint(data, pos, end)
        off_delta, pos = read_varint(data, pos, end)
        key, pos = _read_bytes(data, pos, end)
        value, pos = _read_bytes(data, pos, end)
        n_headers, pos = read_varint(data, pos, end)
        if n_headers < 0 or n_headers * 2 > end - pos:
            raise InvalidRecordBatch(CORRUPT_MESSAGE, f"invalid number of record headers {n_headers}")
        headers = []
        for _h in range(n_headers):
            hk, pos = _read_bytes(data, pos, end)
            if hk is None:
                raise InvalidRecordBatch(CORRUPT_MESSAGE, "null header key")
            hv, pos = _read_bytes(data, pos, end)
            headers.append((hk.decode("utf-8", "replace"), hv))
        if pos != end:
            raise InvalidRecordBatch(
                CORRUPT_MESSAGE, f"record declares {length} bytes but its fields use {length - (end - pos)}"
            )
        ts = header.max_timestamp if log_append else header.base_timestamp + ts_delta
        yield Record(header.base_offset + off_delta, ts, key, value, headers)
    if pos != size:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"{size - pos} bytes left after {count} records")


def iter_batch_records(buf, pos: int = 0, max_size: int = MAX_DECOMPRESSED) -> Iterator[Record]:
    """Records of the batch at ``pos`` in ``buf`` (header and length read, CRC not checked here:
    callers iterate batches that ``validate`` or ``scan`` already accepted)."""
    from hpbroker.records.batch import read_header

    h = read_header(buf, pos)
    if h.batch_length < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD or pos + h.size > len(buf):
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"batch length {h.batch_length} does not fit")
    return iter_records(h, memoryview(buf)[pos + RECORD_BATCH_OVERHEAD : pos + h.size], max_size)
