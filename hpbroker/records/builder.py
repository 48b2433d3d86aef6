"""Building RecordBatch v2 bytes: batches the broker writes itself and test fixtures.

Byte layout: layout.py (batch header) and records.py (records). Control batches (transaction
markers, PROTOCOL.md 3.2) hold one record whose key is ``version int16, type int16`` (0 ABORT,
1 COMMIT) and whose value is ``version int16, coordinatorEpoch int32``.
"""

from __future__ import annotations

import struct
import time

from crc32c import crc32c

from hpbroker.records.compression import compress, decompress
from hpbroker.records.layout import (
    CODEC_MASK,
    CONTROL_MASK,
    LOG_OVERHEAD,
    MAGIC,
    NO_COMPRESSION,
    OFF_ATTRIBUTES,
    OFF_CRC,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_MASK,
    TRANSACTIONAL_MASK,
    BatchHeader,
)
from hpbroker.records.records import encode_record

_HEADER = struct.Struct(">qiibIhiqqqhii")
_CONTROL_KEY = struct.Struct(">hh")
_CONTROL_VALUE = struct.Struct(">hi")

#: control record types (Kafka's ControlRecordType)
ABORT, COMMIT = 0, 1


def build_batch(
    records,
    *,
    base_offset: int = 0,
    compression: int = NO_COMPRESSION,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    base_timestamp: int | None = None,
    attributes: int = 0,
) -> bytearray:
    """One batch from ``records``: an iterable of values, or of (key, value[, headers[, ts]]).

    Records without a timestamp get ``base_timestamp`` (default: now, or the first record's
    timestamp when it has one, as Kafka's builder does); maxTimestamp is the largest record
    timestamp. ``attributes`` adds flags (transactional, control, LogAppendTime); its codec bits
    are replaced by ``compression``.
    """
    items = []
    for r in records:
        if isinstance(r, tuple):
            items.append((r[0], r[1], r[2] if len(r) > 2 else (), r[3] if len(r) > 3 else None))
        else:
            items.append((None, r, (), None))
    if not items:
        raise ValueError("a record batch holds at least one record")
    if base_timestamp is None:
        base_timestamp = items[0][3] if items[0][3] is not None else int(time.time() * 1000)
    body = bytearray()
    max_ts = None
    for i, (key, value, headers, ts) in enumerate(items):
        if ts is None:
            ts = base_timestamp
        max_ts = ts if max_ts is None else max(max_ts, ts)
        body += encode_record(i, ts - base_timestamp, key, value, headers)
    payload = compress(compression, bytes(body)) if compression else body
    attrs = (attributes & ~CODEC_MASK) | compression
    batch_length = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD + len(payload)
    out = bytearray(LOG_OVERHEAD + batch_length)
    _HEADER.pack_into(
        out,
        0,
        base_offset,
        batch_length,
        partition_leader_epoch,
        MAGIC,
        0,
        attrs,
        len(items) - 1,
        base_timestamp,
        max_ts,
        producer_id,
        producer_epoch,
        base_sequence,
        len(items),
    )
    out[RECORD_BATCH_OVERHEAD:] = payload
    struct.pack_into(">I", out, OFF_CRC, crc32c(memoryview(out)[OFF_ATTRIBUTES:]))
    return out


def build_control_batch(
    marker: int,
    *,
    producer_id: int,
    producer_epoch: int,
    coordinator_epoch: int = 0,
    base_offset: int = 0,
    partition_leader_epoch: int = -1,
    timestamp: int | None = None,
) -> bytearray:
    """A transaction marker (``COMMIT`` or ``ABORT``) for ``producer_id``, as the transaction
    coordinator has the partition leader append it: transactional + control, one record, no
    sequence (Kafka's MemoryRecords.withEndTransactionMarker)."""
    if marker not in (ABORT, COMMIT):
        raise ValueError(f"unknown control record type {marker}")
    key = _CONTROL_KEY.pack(0, marker)
    value = _CONTROL_VALUE.pack(0, coordinator_epoch)
    return build_batch(
        [(key, value)],
        base_offset=base_offset,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=-1,
        partition_leader_epoch=partition_leader_epoch,
        base_timestamp=timestamp,
        attributes=TRANSACTIONAL_MASK | CONTROL_MASK,
    )


def read_control_record(key: bytes | None, value: bytes | None) -> tuple[int, int]:
    """(type, coordinator_epoch) of a control record's key and value."""
    if key is None or len(key) < 4:
        raise ValueError("control record key shorter than 4 bytes")
    _version, marker = _CONTROL_KEY.unpack_from(key)
    epoch = _CONTROL_VALUE.unpack_from(value)[1] if value is not None and len(value) >= 6 else -1
    return marker, epoch


def control_type(buf, pos: int = 0) -> tuple[int, int]:
    """(type, coordinator_epoch) of the control batch at ``pos`` in ``buf``: its one record is
    read (once per transaction marker); (-1, -1) when it holds none."""
    from hpbroker.records.records import iter_batch_records

    for record in iter_batch_records(buf, pos):
        return read_control_record(record.key, record.value)
    return -1, -1


def rebuild_batch(
    header: BatchHeader, records: bytes, count: int, max_timestamp: int, level: int | None = None
) -> bytearray:
    """The batch ``header`` describes, holding only ``records`` (``count`` of its records,
    verbatim: their offset and timestamp deltas still count from the same base) -- what the log
    cleaner writes when it drops some records of a batch. Base offset, lastOffsetDelta (so the
    batch still ends where it did), producer fields and attributes stay; the records are
    compressed again with the batch's codec; maxTimestamp becomes ``max_timestamp`` unless the
    batch carries LogAppendTime. ``level``: the codec's compression level (None: default)."""
    codec = header.attributes & CODEC_MASK
    payload = compress(codec, records, level) if codec else records
    if header.attributes & TIMESTAMP_TYPE_MASK or max_timestamp < 0:
        max_timestamp = header.max_timestamp
    batch_length = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD + len(payload)
    out = bytearray(LOG_OVERHEAD + batch_length)
    _HEADER.pack_into(
        out,
        0,
        header.base_offset,
        batch_length,
        header.partition_leader_epoch,
        MAGIC,
        0,
        header.attributes,
        header.last_offset_delta,
        header.base_timestamp,
        max_timestamp,
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
        count,
    )
    out[RECORD_BATCH_OVERHEAD:] = payload
    struct.pack_into(">I", out, OFF_CRC, crc32c(memoryview(out)[OFF_ATTRIBUTES:]))
    return out


def recompress_batch(buf, header: BatchHeader, codec: int, level: int | None = None) -> bytearray:
    """The client batch in ``buf`` with its records compressed by ``codec`` instead (0: none):
    what a topic whose compression.type names a codec stores (Kafka's LogValidator recompresses
    too). The records are kept verbatim, so their offset and timestamp deltas still hold; every
    header field but the codec bits, the length and the CRC stays; ``level`` as in ``compress``."""
    source = header.attributes & CODEC_MASK
    body = bytes(memoryview(buf)[RECORD_BATCH_OVERHEAD : header.size])
    records = decompress(source, body) if source else body
    return rebuild_batch(
        header._replace(attributes=(header.attributes & ~CODEC_MASK) | codec),
        records,
        header.records_count,
        header.max_timestamp,
        level,
    )
