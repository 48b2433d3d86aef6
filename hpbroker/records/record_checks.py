"""Per-record checks of a client batch, and the record errors a refused batch is answered with.

Theory of operation (Kafka's LogValidator.validateRecord / processRecordErrors, KIP-467): a
produced batch is refused whole if any of its records is invalid, and the Produce response (v8+)
names every invalid record by its index in the batch, with a message, in ``record_errors``. Two
rules look at single records:

- on a compacted topic every record needs a key (INVALID_RECORD);
- under CreateTime every record's timestamp, unless it has none (-1), must lie within
  [now - message.timestamp.before.max.ms, now + message.timestamp.after.max.ms]
  (INVALID_TIMESTAMP).

A record that breaks both is named once, for its key (Kafka checks the key first). The
partition's error is INVALID_TIMESTAMP if any record's timestamp is out of range, else
INVALID_RECORD, and its error_message is Kafka's summary. The records are listed in ascending
index order: librdkafka pairs them with its messages in one pass over the batch. When several
records are named, a producer fails each of them with INVALID_RECORD and the record's message, and
the other records of the batch with its own error for "part of a batch which had invalid records"
(librdkafka's _INVALID_DIFFERENT_RECORD, the Java client's and kafka-python's KafkaException), so
those can be sent again. When one is named, it gets the partition's error (librdkafka gives every
record of the batch that error).

Cost: the records are walked, in Cython, only when the batch already needs it. The key walk runs
on every batch of a compacted topic, whose records all need a key. The timestamp walk runs only
when the batch header shows a timestamp out of bounds: its maxTimestamp above the upper bound,
or its baseTimestamp (the first record's) below the lower one. The header carries no minimum,
so a record older than the batch's first record is judged by the first record's timestamp.
Python touches only the records found invalid, on the way to refusing the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from hpbroker.records import batch as rb
from hpbroker.records.layout import CORRUPT_MESSAGE, INVALID_RECORD, BatchHeader, InvalidRecordBatch

INVALID_TIMESTAMP = 32

_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


class RecordErrors(InvalidRecordBatch):
    """A batch refused for some of its records: ``error_code`` INVALID_RECORD or
    INVALID_TIMESTAMP, ``reason`` the partition's error_message, ``record_errors`` every invalid
    record as (batch_index, message), ascending."""

    def __init__(self, error_code: int, reason: str, record_errors: list[tuple[int, str]]):
        super().__init__(error_code, reason)
        self.record_errors = record_errors


def _java_long(n: int) -> int:
    """``n`` wrapped as a Java long: Kafka prints its bounds with long arithmetic."""
    return (n - _LONG_MIN) % (1 << 64) + _LONG_MIN


def check_records(
    records,
    pos: int,
    header: BatchHeader,
    topic_partition: str,
    *,
    keys_required: bool,
    now: int = -1,
    timestamp_before_ms: int | None = None,
    timestamp_after_ms: int | None = None,
) -> None:
    """The per-record rules for a validated batch whose ``header.records_count`` records start at
    ``pos`` of ``records`` (the batch itself at RECORD_BATCH_OVERHEAD, or the payload
    ``validate_compressed_records`` decompressed, at 0). ``topic_partition`` names the partition
    in the messages (``topic-index``); the timestamp bounds are given for a CreateTime topic only
    (None: unbounded). Raises RecordErrors naming every invalid record, InvalidRecordBatch
    (INVALID_TIMESTAMP) for a batch whose maxTimestamp is out of range when none of its records
    is, CORRUPT_MESSAGE if the records do not parse."""
    count = header.records_count
    keyless = rb.keyless_records(records, count, pos) if keys_required else []
    low = _LONG_MIN if timestamp_before_ms is None else now - timestamp_before_ms
    high = _LONG_MAX if timestamp_after_ms is None else now + timestamp_after_ms
    max_out = header.max_timestamp > high
    outside = []
    if max_out or header.base_timestamp < low:
        outside = rb.records_outside_time(records, count, pos, header.base_timestamp, low, high)
    if keyless is None or outside is None:  # validate walked these records already
        raise InvalidRecordBatch(CORRUPT_MESSAGE, "records do not parse")
    if not keyless and not outside:
        if max_out:  # the header claims a maxTimestamp none of its records has
            raise InvalidRecordBatch(
                INVALID_TIMESTAMP,
                f"maxTimestamp {header.max_timestamp} of the batch is out of "
                f"range. The timestamp should be within [{low}, {high}]",
            )
        return
    errors = {}
    if outside:
        before = _LONG_MAX if timestamp_before_ms is None else timestamp_before_ms
        after = _LONG_MAX if timestamp_after_ms is None else timestamp_after_ms
        bounds = (
            f"is out of range. The timestamp should be within [{_java_long(now - before)}, {_java_long(now + after)}]"
        )
        for index, timestamp, offset_delta in outside:
            errors[index] = (
                f"Timestamp {timestamp} of message with offset {header.base_offset + offset_delta} " + bounds
            )
    if keyless:
        message = f"Compacted topic cannot accept message without key in topic partition {topic_partition}"
        errors.update((index, message) for index in keyless)  # the key is checked first
    record_errors = sorted(errors.items())
    if outside:
        raise RecordErrors(
            INVALID_TIMESTAMP, "One or more records have been rejected due to invalid timestamp", record_errors
        )
    first = ", ".join(f"RecordError(batchIndex={i}, message='{m}')" for i, m in record_errors[:3])
    raise RecordErrors(
        INVALID_RECORD,
        f"One or more records have been rejected due to {len(record_errors)} record "
        f"errors in total, and only showing the first three errors at most: [{first}]",
        record_errors,
    )


def encoded_size(record_errors: Sequence[tuple[int, str | None]]) -> int:
    """Bytes the entries take in a non-flexible ProduceResponse: batch_index i32, then
    batch_index_error_message as an i16-length nullable string."""
    return sum(6 + (len(m.encode()) if m is not None else 0) for _, m in record_errors)


def fit(record_errors: list[tuple[int, str]], budget: int) -> Sequence[tuple[int, str | None]]:
    """``record_errors`` as a response can carry them in ``budget`` bytes: whole; else every
    index with a null message (clients then describe the record by the partition's
    error_message or error code); else none, and every record of the batch fails with the
    partition's error, as before KIP-467. A batch of many small invalid records would otherwise
    make a response larger than a multi-process broker's response ring takes."""
    if encoded_size(record_errors) <= budget:
        return record_errors
    if 6 * len(record_errors) <= budget:
        return [(i, None) for i, _ in record_errors]
    return []
