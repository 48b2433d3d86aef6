"""Building RecordBatch v2 bytes: batches the broker writes itself and test fixtures."""
from __future__ import annotations

import struct
import time

from crc32c import crc32c

from hpbroker.records.compression import compress
from hpbroker.records.layout import LOG_OVERHEAD, NO_COMPRESSION, OFF_ATTRIBUTES
from hpbroker.records.records import encode_record

_HEADER = struct.Struct(">qiibIhiqqqhii")


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
    """One batch from ``records``: an iterable of values, or of (key, value[, headers[, ts]])."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    body = bytearray()
    max_ts = base_timestamp
    count = 0
    for i, r in enumerate(records):
        if isinstance(r, tuple):
            key, value = r[0], r[1]
            headers = r[2] if len(r) > 2 else ()
            ts = r[3] if len(r) > 3 else base_timestamp
        else:
            key, value, headers, ts = None, r, (), base_timestamp
        max_ts = max(max_ts, ts)
        body += encode_record(i, ts - base_timestamp, key, value, headers)
        count += 1
    if count == 0:
        raise ValueError("a record batch holds at least one record")
    payload = compress(compression, bytes(body)) if compression else body
    attrs = (attributes & ~0x07) | compression
    batch_length = 49 + len(payload)
    out = bytearray(LOG_OVERHEAD + batch_length)
    _HEADER.pack_into(
        out, 0, base_offset, batch_length, partition_leader_epoch, 2, 0, attrs, count - 1,
        base_timestamp, max_ts, producer_id, producer_epoch, base_sequence, count,
    )
    out[61:] = payload
    struct.pack_into(">I", out, 17, crc32c(memoryview(out)[OFF_ATTRIBUTES:]))
    return out
