"""A compressed batch's recordsCount is checked against its payload, as for uncompressed ones.

Unchecked, a batch whose recordsCount and lastOffsetDelta agree would be appended whatever its
compressed payload held, so a producer could move the log end offset by up to 2^31 with a few
bytes. ``validate_compressed_records`` decompresses (bounded) and counts the records.
"""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from hpbroker.records import _cbatch, _pybatch, batch
from hpbroker.records.builder import build_batch
from hpbroker.records.compression import compress
from hpbroker.records.layout import (
    CORRUPT_MESSAGE,
    GZIP,
    INVALID_RECORD,
    LZ4,
    OFF_ATTRIBUTES,
    OFF_CRC,
    RECORD_BATCH_OVERHEAD,
    SNAPPY,
    ZSTD,
    InvalidRecordBatch,
)
from hpbroker.records.records import encode_record

CODECS = [GZIP, SNAPPY, LZ4, ZSTD]
OFF_LAST_OFFSET_DELTA, OFF_RECORDS_COUNT, OFF_BATCH_LENGTH = 23, 57, 8


def _reseal(buf: bytearray) -> bytearray:
    struct.pack_into(">i", buf, OFF_BATCH_LENGTH, len(buf) - 12)
    struct.pack_into(">I", buf, OFF_CRC, crc32c(memoryview(buf)[OFF_ATTRIBUTES:]))
    return buf


def _claiming(buf: bytearray, count: int) -> bytearray:
    """The same batch claiming ``count`` records (count and last offset delta agree), resealed."""
    forged = bytearray(buf)
    struct.pack_into(">i", forged, OFF_LAST_OFFSET_DELTA, count - 1)
    struct.pack_into(">i", forged, OFF_RECORDS_COUNT, count)
    return _reseal(forged)


def _check(buf):
    h = batch.validate(buf)
    batch.validate_compressed_records(buf, h)
    return h


@pytest.mark.parametrize("codec", CODECS)
def test_honest_compressed_batches_pass(codec):
    assert _check(build_batch([b"v" * 200] * 50, compression=codec)).records_count == 50


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("count", [49, 51, 1_000_000, 2**31 - 1])
def test_a_count_the_payload_does_not_hold_is_invalid_record(codec, count):
    forged = _claiming(build_batch([b"v" * 200] * 50, compression=codec), count)
    batch.validate(forged)  # the header alone is consistent: only the payload tells
    with pytest.raises(InvalidRecordBatch) as err:
        _check(forged)
    assert err.value.error_code == INVALID_RECORD


@pytest.mark.parametrize("codec", CODECS)
def test_a_payload_that_does_not_decompress_is_corrupt_message(codec):
    good = build_batch([b"v" * 200] * 50, compression=codec)
    forged = _reseal(bytearray(good[:RECORD_BATCH_OVERHEAD]) + b"\x13" * 40)
    with pytest.raises(InvalidRecordBatch) as err:
        _check(forged)
    assert err.value.error_code == CORRUPT_MESSAGE


def test_a_payload_expanding_past_the_bound_is_corrupt_message():
    good = build_batch([b"\x00" * 100_000] * 20, compression=ZSTD)
    with pytest.raises(InvalidRecordBatch) as err:
        batch.validate_compressed_records(good, batch.validate(good), max_size=1 << 20)
    assert err.value.error_code == CORRUPT_MESSAGE


def test_uncompressed_batches_are_not_decompressed():
    plain = build_batch([b"v"] * 3)
    batch.validate_compressed_records(plain, batch.validate(plain))


def _with_offset_deltas(codec, deltas) -> bytearray:
    """An honest compressed batch of len(deltas) records, but for the records' offsetDeltas."""
    body = b"".join(encode_record(d, 0, None, b"v" * 30, ()) for d in deltas)
    head = build_batch([b"v" * 30] * len(deltas), compression=codec)[:RECORD_BATCH_OVERHEAD]
    return _reseal(bytearray(head) + compress(codec, body))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("deltas", [[0, 2, 1], [1, 2, 3], [0, 1, 1], [0, 0, 0], [5, 6, 7]])
def test_inner_offset_deltas_of_a_compressed_batch_must_run_from_zero(codec, deltas):
    assert _check(_with_offset_deltas(codec, [0, 1, 2])).records_count == 3
    with pytest.raises(InvalidRecordBatch) as err:
        _check(_with_offset_deltas(codec, deltas))
    assert err.value.error_code == INVALID_RECORD and "incremental" in err.value.reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(-2, 40), st.booleans())
def test_records_fill_twins_agree(payload, count, offset_deltas):
    assert _cbatch.records_fill(payload, count, offset_deltas) == _pybatch.records_fill(payload, count, offset_deltas)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-3, 2**31 - 1), min_size=1, max_size=20), st.integers(-(2**50), 2**50))
def test_records_fill_twins_agree_on_offset_deltas_of_real_records(deltas, ts_delta):
    body = b"".join(encode_record(d, ts_delta, b"k", b"v", ()) for d in deltas)
    expected = deltas == list(range(len(deltas)))
    for mod in (_cbatch, _pybatch):
        assert mod.records_fill(body, len(deltas))
        assert mod.records_fill(body, len(deltas), True) == expected


def test_records_fill_counts_real_payloads():
    plain = build_batch([b"abc"] * 7)
    body = bytes(plain[RECORD_BATCH_OVERHEAD:])
    for mod in (_cbatch, _pybatch):
        assert mod.records_fill(body, 7)
        assert not mod.records_fill(body, 6) and not mod.records_fill(body, 8)
        assert not mod.records_fill(body[:-1], 7)


@pytest.mark.parametrize("codec", CODECS)
def test_payloads_larger_than_the_first_scratch_are_counted(codec):
    from hpbroker.records.compression import SCRATCH_START, decompress, decompressed_view

    big = build_batch([bytes(1 << 20)] * 6, compression=codec)  # 6 MiB out, above the first scratch
    h = _check(big)
    assert h.records_count == 6
    payload = big[RECORD_BATCH_OVERHEAD:]
    assert len(payload) < SCRATCH_START
    assert bytes(decompressed_view(codec, payload)) == decompress(codec, payload)
    with pytest.raises(InvalidRecordBatch) as err:
        batch.validate_compressed_records(big, h, max_size=5 << 20)
    assert err.value.error_code == CORRUPT_MESSAGE
