"""Validate, patch and scan RecordBatch v2 in place (byte layout in layout.py).

The functions never look at record bytes from Python: they run in Cython
(cython/records/_cbatch.pyx) with the pure-Python twin _pybatch.py as the reference.
"""

from __future__ import annotations

from hpbroker import _speedups
from hpbroker.records.compression import MAX_DECOMPRESSED, CompressionError, decompressed_view
from hpbroker.records.layout import *  # noqa: F401,F403  (constants, BatchHeader, errors)
from hpbroker.records.layout import (  # noqa: F401
    CODEC_MASK,
    CORRUPT_MESSAGE,
    INVALID_RECORD,
    NO_COMPRESSION,
    RECORD_BATCH_OVERHEAD,
    UNSUPPORTED_COMPRESSION_TYPE,
    ZSTD,
    BatchHeader,
    InvalidRecordBatch,
)

_impl = _speedups.load("hpbroker.records._cbatch", "hpbroker.records._pybatch")

#: read_header(buf, pos=0) -> BatchHeader (no CRC check; raises InvalidRecordBatch if short)
read_header = _impl.read_header
#: validate(buf, pos=0, end=-1) -> BatchHeader: exactly one client batch filling [pos, end);
#: raises InvalidRecordBatch (error_code CORRUPT_MESSAGE or INVALID_RECORD), ValueError if the
#: range lies outside buf. Checks PROTOCOL.md 3.3: length, magic, CRC, codec 0-4, records count
#: vs lastOffsetDelta (and, uncompressed, vs the records present: compressed batches get that
#: check from validate_compressed_records), no control batch, sequence
validate = _impl.validate
#: patch(buf, pos, base_offset, partition_leader_epoch): stamp the fields outside the CRC;
#: TypeError if buf is read-only (bytes, mmap ACCESS_READ), InvalidRecordBatch if pos is out of range
patch = _impl.patch
#: set_log_append_time(buf, pos, timestamp): LogAppendTime bit + maxTimestamp, CRC recomputed
#: (same errors as patch, and InvalidRecordBatch if the batch length does not fit buf)
set_log_append_time = _impl.set_log_append_time
#: records_fill(buf, count, offset_deltas=False) -> bool: exactly ``count`` length-prefixed
#: records fill ``buf`` (the walk over record length varints that validate does for uncompressed
#: batches); with ``offset_deltas`` their offsetDeltas must also run 0..count-1
records_fill = _impl.records_fill
#: keyless_records(buf, count, pos=0) -> list | None: indexes of the ``count`` records at ``pos``
#: (an uncompressed batch's records start at RECORD_BATCH_OVERHEAD; a decompressed payload's at
#: 0) whose key is null, [] if all have keys, None if they do not parse
keyless_records = _impl.keyless_records
#: records_outside_time(buf, count, pos, base_timestamp, low, high) -> list | None:
#: (index, timestamp, offsetDelta) of the records whose timestamp lies outside [low, high]
#: (-1, no timestamp, is never outside), None if the records do not parse
records_outside_time = _impl.records_outside_time
#: record_keys(buf, count, pos, base_offset, latest) -> int: the log cleaner's offset map: for
#: each of ``count`` records at ``pos`` with a key, latest[key] = base_offset + offsetDelta;
#: returns how many had a key, -2 if the records do not parse
record_keys = _impl.record_keys
#: retain_records(buf, count, pos, base_offset, base_timestamp, latest, drop_tombstones) ->
#: (bytes, kept, max_timestamp) | None: the records compaction keeps, verbatim, in order (not
#: keyless, not superseded per ``latest``, not a tombstone if ``drop_tombstones``)
retain_records = _impl.retain_records
#: scan(buf, pos=0, end=-1, check_crc=True) -> (valid_end, [(pos, base_offset, last_offset,
#: max_timestamp, size), ...]): walk whole batches until the first one that is short or bad;
#: ValueError for a negative pos, an end past buf is clamped
scan = _impl.scan


def check_produce_version(header: BatchHeader, api_version: int) -> None:
    """Produce-version rule on a validated batch (Kafka's ProduceRequest.validateRecords):
    zstd needs Produce v7+, older requests get UNSUPPORTED_COMPRESSION_TYPE. Header fields only."""
    if api_version < 7 and header.attributes & CODEC_MASK == ZSTD:
        raise InvalidRecordBatch(
            UNSUPPORTED_COMPRESSION_TYPE, f"zstd compression needs Produce v7+, got v{api_version}"
        )


def validate_compressed_records(buf, header: BatchHeader, max_size: int = MAX_DECOMPRESSED) -> memoryview | None:
    """The check ``validate`` makes on uncompressed records, for a compressed batch: its payload
    decompresses, and exactly ``recordsCount`` records fill it. Without this a batch could claim
    any count (with a matching lastOffsetDelta) over a payload of a few records and move the log
    end offset by up to 2^31; Kafka decompresses and walks the records on append as well. The
    codec libraries decompress (bounded by ``max_size``) and the Cython walk counts: no record
    is touched from Python. CORRUPT_MESSAGE if the payload does not decompress, INVALID_RECORD
    if the count is wrong or the records' offsetDeltas do not run 0, 1, ... (Kafka's
    LogValidator: inner records of a compressed batch must have incremental offsets; a consumer
    computes each record's offset from them, so others would be read at wrong offsets).

    Returns the decompressed records (None for an uncompressed batch), for the per-record checks
    of record_checks.py: a view of this thread's scratch buffer, valid until its next
    decompression."""
    codec = header.attributes & CODEC_MASK
    if codec == NO_COMPRESSION:
        return None
    with memoryview(buf) as m:
        try:
            payload = decompressed_view(codec, m[RECORD_BATCH_OVERHEAD : header.size], max_size)
        except CompressionError as exc:
            raise InvalidRecordBatch(CORRUPT_MESSAGE, str(exc)) from None
    if not records_fill(payload, header.records_count, True):
        if not records_fill(payload, header.records_count):
            raise InvalidRecordBatch(
                INVALID_RECORD, f"compressed records do not fill the batch as its count {header.records_count} says"
            )
        raise InvalidRecordBatch(
            INVALID_RECORD, "inner records of the compressed batch do not have incremental offset deltas 0, 1, ..."
        )
    return payload
