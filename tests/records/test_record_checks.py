"""The per-record rules of a client batch (Kafka's LogValidator.validateRecord): a refused batch
names every invalid record, ascending, with Kafka's messages and error codes (KIP-467)."""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c

from hpbroker.records import batch
from hpbroker.records.builder import build_batch
from hpbroker.records.layout import (
    CORRUPT_MESSAGE,
    GZIP,
    INVALID_RECORD,
    LZ4,
    NO_COMPRESSION,
    OFF_ATTRIBUTES,
    OFF_CRC,
    OFF_MAX_TIMESTAMP,
    RECORD_BATCH_OVERHEAD,
    InvalidRecordBatch,
)
from hpbroker.records.record_checks import RecordErrors, check_records, encoded_size, fit

INVALID_TIMESTAMP = 32
NOW = 1_700_000_000_000
KEY_MESSAGE = "Compacted topic cannot accept message without key in topic partition t-3"


def _check(buf, **kw):
    h = batch.validate(buf)
    payload = batch.validate_compressed_records(buf, h)
    records, pos = (buf, RECORD_BATCH_OVERHEAD) if payload is None else (payload, 0)
    check_records(records, pos, h, "t-3", **{"keys_required": False, "now": NOW, **kw})


def _refused(buf, **kw) -> RecordErrors:
    with pytest.raises(RecordErrors) as err:
        _check(buf, **kw)
    return err.value


@pytest.mark.parametrize("codec", [NO_COMPRESSION, GZIP, LZ4])
def test_every_keyless_record_is_named(codec):
    items = [(None if i in (1, 4, 5, 9) else b"k%d" % i, b"v") for i in range(10)]
    err = _refused(build_batch(items, compression=codec), keys_required=True)
    assert err.error_code == INVALID_RECORD
    assert err.record_errors == [(i, KEY_MESSAGE) for i in (1, 4, 5, 9)]
    assert err.reason == (
        "One or more records have been rejected due to 4 record errors in total, and only showing the first "
        f"three errors at most: [RecordError(batchIndex=1, message='{KEY_MESSAGE}'), "
        f"RecordError(batchIndex=4, message='{KEY_MESSAGE}'), RecordError(batchIndex=5, message='{KEY_MESSAGE}')]"
    )
    _check(build_batch(items, compression=codec))  # a topic that is not compacted takes them


def test_keyed_batch_passes():
    _check(build_batch([(b"k%d" % i, b"v") for i in range(10)]), keys_required=True)
    _check(build_batch([(b"", b"v")]), keys_required=True)  # an empty key is a key


@pytest.mark.parametrize("codec", [NO_COMPRESSION, LZ4])
def test_every_record_out_of_time_is_named(codec):
    stamps = [NOW, NOW - 5000, NOW + 100, NOW + 5000, NOW - 100, NOW + 4000]
    buf = build_batch([(b"k", b"v", (), ts) for ts in stamps], compression=codec)
    err = _refused(buf, timestamp_before_ms=1000, timestamp_after_ms=1000)
    assert err.error_code == INVALID_TIMESTAMP
    assert err.reason == "One or more records have been rejected due to invalid timestamp"
    bounds = f"is out of range. The timestamp should be within [{NOW - 1000}, {NOW + 1000}]"
    assert err.record_errors == [
        (1, f"Timestamp {NOW - 5000} of message with offset 1 " + bounds),
        (3, f"Timestamp {NOW + 5000} of message with offset 3 " + bounds),
        (5, f"Timestamp {NOW + 4000} of message with offset 5 " + bounds),
    ]
    # one bound only: the other prints as Kafka's long arithmetic does (Long.MAX_VALUE wraps)
    err = _refused(buf, timestamp_after_ms=1000)
    assert [i for i, _ in err.record_errors] == [3, 5]
    assert err.record_errors[0][1].endswith(f"within [{NOW - (1 << 63) + 1}, {NOW + 1000}]")
    old = build_batch([(b"k", b"v", (), ts) for ts in (NOW - 5000, NOW, NOW - 3000)], compression=codec)
    err = _refused(old, timestamp_before_ms=1000)
    assert [i for i, _ in err.record_errors] == [0, 2]
    assert err.record_errors[0][1].endswith(f"within [{NOW - 1000}, {NOW + (1 << 63) - 1 - (1 << 64)}]")
    _check(buf, timestamp_before_ms=10_000, timestamp_after_ms=10_000)


def test_a_record_failing_both_rules_is_named_for_its_key_and_the_batch_for_its_timestamps():
    items = [(b"k", b"v", (), NOW), (None, b"v", (), NOW + 9000), (b"k", b"v", (), NOW + 9000), (None, b"v", (), NOW)]
    err = _refused(build_batch(items), keys_required=True, timestamp_after_ms=1000)
    assert err.error_code == INVALID_TIMESTAMP
    assert [(i, m.split(" ")[0]) for i, m in err.record_errors] == [
        (1, "Compacted"),
        (2, "Timestamp"),
        (3, "Compacted"),
    ]


def test_the_timestamp_walk_runs_only_when_the_header_shows_a_bound_crossed():
    # a record older than the batch's first one is judged by the first one: the header has no minimum
    buf = build_batch([(b"k", b"v", (), NOW), (b"k", b"v", (), NOW - 5000)])
    _check(buf, timestamp_before_ms=1000)
    # records without a timestamp are never out of range, even when baseTimestamp (-1) is
    _check(build_batch([(b"k", b"v")] * 3, base_timestamp=-1), timestamp_before_ms=1000)


def _with_max_timestamp(buf, ts):
    buf = bytearray(buf)
    struct.pack_into(">q", buf, OFF_MAX_TIMESTAMP, ts)
    struct.pack_into(">I", buf, OFF_CRC, crc32c(memoryview(buf)[OFF_ATTRIBUTES:]))
    return buf


def test_a_max_timestamp_no_record_has_refuses_the_batch_without_record_errors():
    buf = _with_max_timestamp(build_batch([(b"k", b"v", (), NOW)] * 2), NOW + 9000)
    with pytest.raises(InvalidRecordBatch) as err:
        _check(buf, timestamp_after_ms=1000)
    assert err.value.error_code == INVALID_TIMESTAMP and not isinstance(err.value, RecordErrors)


def test_records_that_do_not_parse_are_corrupt():
    h = batch.validate(build_batch([(b"k", b"v")] * 2))
    with pytest.raises(InvalidRecordBatch) as err:
        check_records(b"\x00" * 4, 0, h, "t-3", keys_required=True)
    assert err.value.error_code == CORRUPT_MESSAGE


def test_fit_keeps_every_message_then_every_index_then_nothing():
    errors = [(i, KEY_MESSAGE) for i in range(100)]
    assert encoded_size(errors) == 100 * (6 + len(KEY_MESSAGE))
    assert fit(errors, encoded_size(errors)) == errors
    assert fit(errors, encoded_size(errors) - 1) == [(i, None) for i in range(100)]
    assert encoded_size(fit(errors, 600)) == 600
    assert fit(errors, 599) == []
    assert encoded_size([(0, "é")]) == 8
