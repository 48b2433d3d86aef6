"""The per-record walks a refused batch is named by: ``keyless_records`` lists every record whose key
is null (a compacted topic's rule), ``records_outside_time`` every record whose timestamp is out of
bounds, in the Cython walk and its pure twin, for uncompressed batches and decompressed payloads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpbroker.records import _cbatch, _pybatch, batch
from hpbroker.records.builder import build_batch
from hpbroker.records.layout import GZIP, LZ4, RECORD_BATCH_OVERHEAD, SNAPPY, ZSTD
from hpbroker.records.records import encode_record

TWINS = [_cbatch, _pybatch]
CODECS = [GZIP, SNAPPY, LZ4, ZSTD]
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1


@pytest.mark.parametrize("mod", TWINS)
def test_keyless_records_names_every_record_without_a_key(mod):
    keyed = build_batch([(b"k%d" % i, b"v") for i in range(5)])
    assert mod.keyless_records(keyed, 5, RECORD_BATCH_OVERHEAD) == []
    for missing in ([0], [3], [4], [0, 2, 4], [0, 1, 2, 3, 4]):
        items = [(None if i in missing else b"k", b"v") for i in range(5)]
        assert mod.keyless_records(build_batch(items), 5, RECORD_BATCH_OVERHEAD) == missing
    # an empty key is a key (Kafka's hasKey is key != null)
    assert mod.keyless_records(build_batch([(b"", b"v")]), 1, RECORD_BATCH_OVERHEAD) == []


@pytest.mark.parametrize("mod", TWINS)
def test_keyless_records_on_records_that_do_not_parse(mod):
    body = bytes(build_batch([(b"k", b"v")] * 3)[RECORD_BATCH_OVERHEAD:])
    assert mod.keyless_records(body, 3) == []
    assert mod.keyless_records(body[:-1], 3) is None
    assert mod.keyless_records(body, 4) is None
    assert mod.keyless_records(body, 0) == []
    assert mod.keyless_records(b"", 1) is None and mod.keyless_records(body, 1, len(body)) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(-2, 40), st.integers(0, 40))
def test_keyless_records_twins_agree_on_any_bytes(payload, count, pos):
    assert _cbatch.keyless_records(payload, count, pos) == _pybatch.keyless_records(payload, count, pos)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.binary(max_size=20)), min_size=1, max_size=20))
def test_keyless_records_twins_agree_on_real_records(keys):
    body = b"".join(encode_record(i, i, k, b"v", ()) for i, k in enumerate(keys))
    expected = [i for i, k in enumerate(keys) if k is None]
    for mod in TWINS:
        assert mod.keyless_records(body, len(keys)) == expected


@pytest.mark.parametrize("mod", TWINS)
def test_records_outside_time(mod):
    stamps = [1000, 990, 1010, 1500, 500]
    b = build_batch([(b"k", b"v", (), ts) for ts in stamps], base_timestamp=1000)
    assert mod.records_outside_time(b, 5, RECORD_BATCH_OVERHEAD, 1000, 500, 1500) == []
    assert mod.records_outside_time(b, 5, RECORD_BATCH_OVERHEAD, 1000, 995, 1005) == [
        (1, 990, 1),
        (2, 1010, 2),
        (3, 1500, 3),
        (4, 500, 4),
    ]
    assert mod.records_outside_time(b, 5, RECORD_BATCH_OVERHEAD, 1000, LONG_MIN, 1000) == [(2, 1010, 2), (3, 1500, 3)]
    # a record without a timestamp (-1) is never out of range
    none = build_batch([(b"k", b"v")] * 2, base_timestamp=-1)
    assert mod.records_outside_time(none, 2, RECORD_BATCH_OVERHEAD, -1, 0, 10) == []
    # baseTimestamp + timestampDelta wraps as a Java long
    body = encode_record(0, 1, b"k", b"v", ())
    assert mod.records_outside_time(body, 1, 0, LONG_MAX, 0, LONG_MAX) == [(0, LONG_MIN, 0)]
    assert mod.records_outside_time(body[:-1], 1, 0, 0, 0, 0) is None
    assert mod.records_outside_time(body, 0, 0, 0, 0, 0) == []


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300),
    st.integers(-2, 40),
    st.integers(0, 40),
    st.integers(LONG_MIN, LONG_MAX),
    st.integers(LONG_MIN, LONG_MAX),
    st.integers(LONG_MIN, LONG_MAX),
)
def test_records_outside_time_twins_agree_on_any_bytes(payload, count, pos, base, low, high):
    assert _cbatch.records_outside_time(payload, count, pos, base, low, high) == _pybatch.records_outside_time(
        payload, count, pos, base, low, high
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(1 << 40), 1 << 40), min_size=1, max_size=20),
    st.integers(-(1 << 40), 1 << 40),
    st.integers(0, 1 << 40),
)
def test_records_outside_time_twins_agree_on_real_records(deltas, low, width):
    body = b"".join(encode_record(i, d, b"k", b"v", ()) for i, d in enumerate(deltas))
    expected = [(i, 7 + d, i) for i, d in enumerate(deltas) if 7 + d != -1 and not low <= 7 + d <= low + width]
    for mod in TWINS:
        assert mod.records_outside_time(body, len(deltas), 0, 7, low, low + width) == expected


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_records_are_walked_in_the_payload(codec):
    ok = build_batch([(b"k", b"v" * 100)] * 20, compression=codec)
    h = batch.validate(ok)
    payload = batch.validate_compressed_records(ok, h)
    assert batch.keyless_records(payload, h.records_count, 0) == []
    bad = build_batch([(b"k", b"v" * 100)] * 17 + [(None, b"v"), (b"k", b"v"), (None, b"v")], compression=codec)
    h = batch.validate(bad)
    assert batch.keyless_records(batch.validate_compressed_records(bad, h), h.records_count, 0) == [17, 19]
    plain = build_batch([(b"k", b"v")])
    assert batch.validate_compressed_records(plain, batch.validate(plain)) is None
