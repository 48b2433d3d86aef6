"""Pure-Python twin of cython/records/_cbatch.pyx (the reference for the parity tests).

Touches only the 61-byte header of each batch; the CRC over the records runs in the crc32c
library (hardware CRC-32C), so even this twin never walks record bytes in Python.
"""
from __future__ import annotations

import struct

from crc32c import crc32c

from hpbroker.records.layout import (
    CONTROL_MASK,
    CORRUPT_MESSAGE,
    INVALID_RECORD,
    LOG_OVERHEAD,
    MAGIC,
    OFF_ATTRIBUTES,
    OFF_CRC,
    OFF_MAX_TIMESTAMP,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_MASK,
    BatchHeader,
    InvalidRecordBatch,
)

_HEADER = struct.Struct(">qiibIhiqqqhii")
_I64 = struct.Struct(">q")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I16 = struct.Struct(">h")
_MIN_BATCH_LENGTH = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD


def read_header(buf, pos: int = 0) -> BatchHeader:
    if pos < 0 or len(buf) - pos < RECORD_BATCH_OVERHEAD:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "record batch shorter than its 61-byte header")
    return BatchHeader._make(_HEADER.unpack_from(buf, pos))


def _check_frame(buf, pos: int, end: int) -> BatchHeader:
    """Length, magic and CRC of the batch at ``pos``, which must end at or before ``end``."""
    h = read_header(buf, pos)
    if h.magic != MAGIC:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"unsupported magic {h.magic}")
    if h.batch_length < _MIN_BATCH_LENGTH or pos + h.batch_length + LOG_OVERHEAD > end:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"batch length {h.batch_length} does not fit")
    crc = crc32c(memoryview(buf)[pos + OFF_ATTRIBUTES : pos + LOG_OVERHEAD + h.batch_length])
    if crc != h.crc:
        raise InvalidRecordBatch(CORRUPT_MESSAGE, f"CRC mismatch: stored {h.crc:#x}, computed {crc:#x}")
    return h


def validate(buf, pos: int = 0, end: int = -1) -> BatchHeader:
    """Check one batch from a client that must fill [pos, end) exactly (Produce v3+ rule)."""
    if end < 0:
        end = len(buf)
    h = _check_frame(buf, pos, end)
    if pos + h.batch_length + LOG_OVERHEAD != end:
        raise InvalidRecordBatch(INVALID_RECORD, "exactly one record batch per partition is allowed")
    if h.records_count <= 0 or h.last_offset_delta + 1 != h.records_count:
        raise InvalidRecordBatch(
            INVALID_RECORD,
            f"records count {h.records_count} does not match last offset delta {h.last_offset_delta}",
        )
    if h.attributes & CONTROL_MASK:
        raise InvalidRecordBatch(INVALID_RECORD, "clients may not send control batches")
    if h.producer_id >= 0 and h.base_sequence < 0:
        raise InvalidRecordBatch(INVALID_RECORD, "idempotent batch without a base sequence")
    return h


def patch(buf, pos: int, base_offset: int, partition_leader_epoch: int) -> None:
    _I64.pack_into(buf, pos, base_offset)
    _I32.pack_into(buf, pos + 12, partition_leader_epoch)


def set_log_append_time(buf, pos: int, timestamp: int) -> None:
    attributes = _I16.unpack_from(buf, pos + OFF_ATTRIBUTES)[0] | TIMESTAMP_TYPE_MASK
    _I16.pack_into(buf, pos + OFF_ATTRIBUTES, attributes)
    _I64.pack_into(buf, pos + OFF_MAX_TIMESTAMP, timestamp)
    length = _I32.unpack_from(buf, pos + 8)[0]
    _U32.pack_into(buf, pos + OFF_CRC, crc32c(memoryview(buf)[pos + OFF_ATTRIBUTES : pos + LOG_OVERHEAD + length]))


def scan(buf, pos: int = 0, end: int = -1, check_crc: bool = True):
    """Walk whole batches from ``pos``; stop at the first that is short, not magic 2 or bad.

    Returns ``(valid_end, batches)`` with one ``(pos, base_offset, last_offset, max_timestamp,
    size)`` tuple per valid batch: what log recovery and index rebuilding need.
    """
    if end < 0:
        end = len(buf)
    out = []
    while end - pos >= RECORD_BATCH_OVERHEAD:
        try:
            if check_crc:
                h = _check_frame(buf, pos, end)
            else:
                h = read_header(buf, pos)
                if h.magic != MAGIC or h.batch_length < _MIN_BATCH_LENGTH or pos + h.batch_length + LOG_OVERHEAD > end:
                    break
        except InvalidRecordBatch:
            break
        size = h.batch_length + LOG_OVERHEAD
        out.append((pos, h.base_offset, h.base_offset + h.last_offset_delta, h.max_timestamp, size))
        pos += size
    return pos, out
