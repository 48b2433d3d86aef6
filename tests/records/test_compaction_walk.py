"""The log cleaner's record walks, in Cython and their pure twin: ``record_keys`` (the offset
map) and ``retain_records`` (what a batch keeps), on real records and on any bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpbroker.records import _cbatch, _pybatch, batch
from hpbroker.records.builder import build_batch, rebuild_batch
from hpbroker.records.layout import GZIP, LZ4, RECORD_BATCH_OVERHEAD, SNAPPY, ZSTD
from hpbroker.records.records import encode_record, iter_batch_records

TWINS = [_cbatch, _pybatch]


@pytest.mark.parametrize("mod", TWINS)
def test_record_keys_maps_each_key_to_its_last_offset(mod):
    b = build_batch([(b"a", b"1"), (b"b", b"2"), (b"a", b"3"), (None, b"4"), (b"", None)])
    latest = {b"b": 7}
    assert mod.record_keys(b, 5, RECORD_BATCH_OVERHEAD, 100, latest) == 4
    assert latest == {b"a": 102, b"b": 101, b"": 104}  # later offsets overwrite
    assert mod.record_keys(b, 6, RECORD_BATCH_OVERHEAD, 100, {}) == -2
    assert mod.record_keys(b[:-1], 5, RECORD_BATCH_OVERHEAD, 100, {}) == -2
    assert mod.record_keys(b, 0, RECORD_BATCH_OVERHEAD, 100, {}) == 0


@pytest.mark.parametrize("mod", TWINS)
def test_retain_records_keeps_the_latest_of_each_key_verbatim(mod):
    items = [
        (b"a", b"1", (), 1000),
        (b"b", b"2", (), 1005),
        (b"a", b"3", (), 1002),
        (None, b"4", (), 1009),
        (b"c", None, (), 1001),
    ]
    b = build_batch(items)
    body = bytes(b[RECORD_BATCH_OVERHEAD:])
    records = [encode_record(i, ts - 1000, k, v, h) for i, (k, v, h, ts) in enumerate(items)]
    latest = {b"a": 52, b"b": 51, b"c": 54}
    got = mod.retain_records(b, 5, RECORD_BATCH_OVERHEAD, 50, 1000, latest, False)
    assert got == (records[1] + records[2] + records[4], 3, 1005)  # keyless and superseded go
    got = mod.retain_records(b, 5, RECORD_BATCH_OVERHEAD, 50, 1000, latest, True)
    assert got == (records[1] + records[2], 2, 1005)  # and the tombstone
    # a key whose latest offset is not in the map (cleaned earlier) stays
    assert mod.retain_records(body, 5, 0, 50, 1000, {}, False)[1] == 4
    assert mod.retain_records(body, 5, 0, 50, 1000, {b"a": 99, b"b": 99, b"c": 99}, False) == (b"", 0, -1)
    assert mod.retain_records(body[:-1], 5, 0, 50, 1000, {}, False) is None


@pytest.mark.parametrize("codec", [0, GZIP, SNAPPY, LZ4, ZSTD])
def test_rebuilt_batch_is_valid_and_keeps_offsets(codec):
    items = [(b"k%d" % (i % 3), b"v%d" % i, (), 5000 + i) for i in range(9)]
    b = build_batch(items, compression=codec, producer_id=7, producer_epoch=1, base_sequence=40, base_offset=300)
    h = batch.read_header(b)
    payload = b if not codec else batch.decompressed_view(codec, b[RECORD_BATCH_OVERHEAD:])
    latest = {}
    batch.record_keys(payload, 9, 0 if codec else RECORD_BATCH_OVERHEAD, 300, latest)
    assert latest == {b"k0": 306, b"k1": 307, b"k2": 308}
    records, count, max_ts = batch.retain_records(
        payload, 9, 0 if codec else RECORD_BATCH_OVERHEAD, 300, 5000, latest, False
    )
    new = rebuild_batch(h, records, count, max_ts)
    end, found = batch.scan(new, 0, -1, True)  # length, magic, CRC: as recovery checks it
    assert end == len(new) and len(found) == 1
    nh = batch.read_header(new)  # fewer records than lastOffsetDelta + 1: a compacted batch
    assert (nh.base_offset, nh.last_offset_delta, nh.records_count, nh.max_timestamp) == (300, 8, 3, 5008)
    assert (nh.producer_id, nh.producer_epoch, nh.base_sequence, nh.compression) == (7, 1, 40, codec)
    got = [(r.offset, r.key, r.value, r.timestamp) for r in iter_batch_records(new)]
    assert got == [(306, b"k0", b"v6", 5006), (307, b"k1", b"v7", 5007), (308, b"k2", b"v8", 5008)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(-2, 20), st.integers(-1, 40), st.booleans())
def test_twins_agree_on_any_bytes(payload, count, pos, drop):
    maps = [{}, {}]
    got = [mod.record_keys(payload, count, pos, 10, m) for mod, m in zip(TWINS, maps)]
    assert got[0] == got[1] and maps[0] == maps[1]
    latest = {payload[:3]: 12}
    assert _cbatch.retain_records(payload, count, pos, 10, 0, latest, drop) == _pybatch.retain_records(
        payload, count, pos, 10, 0, latest, drop
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from([b"a", b"b", b""])),
            st.one_of(st.none(), st.binary(max_size=8)),
            st.integers(-5, 5),
        ),
        min_size=1,
        max_size=15,
    ),
    st.booleans(),
)
def test_twins_agree_on_real_records(items, drop):
    body = b"".join(encode_record(i, ts, k, v, ()) for i, (k, v, ts) in enumerate(items))
    maps = [{}, {}]
    for mod, m in zip(TWINS, maps):
        mod.record_keys(body, len(items), 0, 0, m)
    assert maps[0] == maps[1]
    outs = [mod.retain_records(body, len(items), 0, 0, 100, maps[0], drop) for mod in TWINS]
    assert outs[0] == outs[1]
    kept = [i for i, (k, v, _) in enumerate(items) if k is not None and maps[0][k] == i and not (v is None and drop)]
    assert outs[0][1] == len(kept)


@pytest.mark.parametrize("source", [0, GZIP, SNAPPY, LZ4, ZSTD])
@pytest.mark.parametrize("target", [0, GZIP, SNAPPY, LZ4, ZSTD])
def test_recompress_batch_keeps_every_record_and_header_field(source, target):
    from hpbroker.records.builder import recompress_batch

    items = [(b"k%d" % i, b"value-%d" % i * 10, ((b"h", b"x"),), 7000 + i) for i in range(12)]
    b = build_batch(items, compression=source, producer_id=3, producer_epoch=2, base_sequence=9)
    h = batch.validate(b)
    new = recompress_batch(b, h, target)
    nh = batch.validate(new)  # a whole client batch still: count, CRC, codec
    assert nh.compression == target
    assert nh._replace(attributes=h.attributes, crc=0, batch_length=0) == h._replace(crc=0, batch_length=0)
    assert [(r.offset, r.key, r.value, r.timestamp, r.headers) for r in iter_batch_records(new)] == [
        (r.offset, r.key, r.value, r.timestamp, r.headers) for r in iter_batch_records(b)
    ]
