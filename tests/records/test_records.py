"""Iterating records of batches with every codec, and what hostile batches cannot do."""

from __future__ import annotations

import struct
import time

import cramjam
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpbroker.records import batch
from hpbroker.records.builder import build_batch
from hpbroker.records.compression import CompressionError, compress, decompress
from hpbroker.records.layout import CORRUPT_MESSAGE, InvalidRecordBatch
from hpbroker.records.records import iter_batch_records, read_varint, write_varint
from tests.records.records_strategies import CODECS, batches, damaged, fix_crc

T0 = 1_700_000_000_000
MiB = 1 << 20


@pytest.mark.parametrize("codec", CODECS)
def test_iterate_every_shape(codec):
    records = [
        (None, None, [], T0),
        (b"k", b"", [("h", None), ("h", b"")], T0 + 3),
        (b"", b"v", [("\u00e9", b"\xff")], T0 - 2),  # timestamps need not grow
        (b"large", bytes(range(256)) * (MiB // 256), [], T0 + 1),
    ]
    buf = build_batch(records, compression=codec, base_offset=10)
    h = batch.validate(buf)
    assert h.max_timestamp == T0 + 3 and h.base_timestamp == T0
    got = list(iter_batch_records(buf))
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in got] == [
        (10 + i, ts, k, v, hd) for i, (k, v, hd, ts) in enumerate(records)
    ]
    batch.set_log_append_time(buf, 0, T0 + 100)
    assert [r.timestamp for r in iter_batch_records(buf)] == [T0 + 100] * 4
    assert batch.validate(buf).log_append_time


@pytest.mark.parametrize("codec", CODECS[1:])
def test_compression_bomb_is_bounded(codec):
    bomb = compress(codec, bytes(16 * MiB))
    assert len(bomb) < MiB
    with pytest.raises(CompressionError):
        decompress(codec, bomb, max_size=MiB)
    assert len(decompress(codec, bomb, max_size=16 * MiB)) == 16 * MiB  # exactly the bound is fine


def test_xerial_snappy_bomb_is_bounded():
    block = bytes(cramjam.snappy.compress_raw(bytes(MiB)))
    xerial = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    xerial += (struct.pack(">i", len(block)) + block) * 8
    assert len(decompress(2, xerial, max_size=8 * MiB)) == 8 * MiB
    with pytest.raises(CompressionError):
        decompress(2, xerial, max_size=8 * MiB - 1)


@pytest.mark.parametrize("codec", CODECS[1:])
def test_batch_with_bomb_fails_as_corrupt(codec):
    buf = build_batch([bytes(4 * MiB)], compression=codec)
    with pytest.raises(InvalidRecordBatch) as e:
        list(iter_batch_records(buf, max_size=MiB))
    assert e.value.error_code == CORRUPT_MESSAGE


def _hostile_count(codec, count):
    buf = build_batch([b"a", b"b"], compression=codec)
    struct.pack_into(">i", buf, 57, count)
    struct.pack_into(">i", buf, 23, count - 1)
    fix_crc(buf)
    return buf


@pytest.mark.timing
@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("count", [2**31 - 1, 10**6])
def test_hostile_records_count_fails_within_half_a_second(codec, count):
    buf = _hostile_count(codec, count)
    t = time.perf_counter()
    with pytest.raises(InvalidRecordBatch):
        list(iter_batch_records(buf))
    assert time.perf_counter() - t < 0.5


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("count", [2**31 - 1, 10**6, -5, 3])
def test_hostile_records_count_fails_fast(codec, count):
    # fails at the end of the two records present, not after ``count`` of them (the time it
    # takes is judged by the timing test above)
    buf = _hostile_count(codec, count)
    with pytest.raises(InvalidRecordBatch):
        list(iter_batch_records(buf))
    if codec == 0 and count > 0:  # validate already counts uncompressed records
        with pytest.raises(InvalidRecordBatch) as e:
            batch.validate(buf)
        assert e.value.error_code == batch.INVALID_RECORD


def _with_records(body: bytes) -> bytearray:
    buf = build_batch([b"x"], base_timestamp=T0)[:61] + body
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    return fix_crc(buf)


def _record(length_delta=0, header_count=0, tail=b""):
    body = bytearray(b"\x00")  # attributes
    for v in (0, 0, 1):  # timestampDelta, offsetDelta, keyLength 1
        write_varint(body, v)
    body += b"k"
    write_varint(body, -1)  # null value
    write_varint(body, header_count)
    body += tail
    out = bytearray()
    write_varint(out, len(body) + length_delta)
    return bytes(out + body)


@pytest.mark.parametrize(
    "body",
    [
        _record(header_count=2**31 - 1),  # more headers than bytes
        _record(header_count=-1),
        _record(header_count=1, tail=b"\x01"),  # null header key
        _record(length_delta=-2),  # fields run past the record's length
        _record(length_delta=+1) + b"\x00",  # record longer than its fields
        _record() + b"\x00\x00",  # bytes left after the last record
        b"\x01\x02",  # negative length
        b"\xff" * 12,  # varint longer than 10 bytes
    ],
)
def test_malformed_records_are_corrupt(body):
    with pytest.raises(InvalidRecordBatch) as e:
        list(iter_batch_records(_with_records(body)))
    assert e.value.error_code == CORRUPT_MESSAGE
    assert len(list(iter_batch_records(_with_records(_record())))) == 1


def test_iterate_rejects_batch_past_the_buffer():
    buf = build_batch([b"abc"])
    with pytest.raises(InvalidRecordBatch):
        list(iter_batch_records(buf[:-1]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_batches_never_crash_iteration(buf):
    try:
        for r in iter_batch_records(buf, max_size=MiB):
            assert r.key is None or isinstance(r.key, bytes)
    except InvalidRecordBatch as exc:
        assert exc.error_code == CORRUPT_MESSAGE


@settings(max_examples=200, deadline=None)
@given(batches())
def test_valid_batches_iterate(buf):
    h = batch.validate(buf)
    recs = list(iter_batch_records(buf))
    assert len(recs) == h.records_count
    assert [r.offset for r in recs] == list(range(h.base_offset, h.last_offset + 1))


@given(st.integers(-(2**63), 2**63 - 1))
def test_varint_roundtrip(v):
    out = bytearray()
    write_varint(out, v)
    assert read_varint(out, 0) == (v, len(out))
