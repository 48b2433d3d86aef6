"""A compacted topic's records need keys: ``first_keyless`` finds the first record whose key is
null, in the Cython walk and its pure twin, for uncompressed batches and decompressed payloads."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpbroker.records import _cbatch, _pybatch, batch
from hpbroker.records.builder import build_batch
from hpbroker.records.layout import CORRUPT_MESSAGE, GZIP, INVALID_RECORD, LZ4, RECORD_BATCH_OVERHEAD, SNAPPY, ZSTD
from hpbroker.records.records import encode_record

TWINS = [_cbatch, _pybatch]
CODECS = [GZIP, SNAPPY, LZ4, ZSTD]


@pytest.mark.parametrize("mod", TWINS)
def test_first_keyless_names_the_first_record_without_a_key(mod):
    keyed = build_batch([(b"k%d" % i, b"v") for i in range(5)])
    assert mod.first_keyless(keyed, 5, RECORD_BATCH_OVERHEAD) == -1
    for missing in (0, 3, 4):
        items = [(None if i in (missing, 4) else b"k", b"v") for i in range(5)]
        assert mod.first_keyless(build_batch(items), 5, RECORD_BATCH_OVERHEAD) == missing
    # an empty key is a key (Kafka's hasKey is key != null)
    assert mod.first_keyless(build_batch([(b"", b"v")]), 1, RECORD_BATCH_OVERHEAD) == -1


@pytest.mark.parametrize("mod", TWINS)
def test_first_keyless_on_records_that_do_not_parse(mod):
    body = bytes(build_batch([(b"k", b"v")] * 3)[RECORD_BATCH_OVERHEAD:])
    assert mod.first_keyless(body, 3) == -1
    assert mod.first_keyless(body[:-1], 3) == -2
    assert mod.first_keyless(body, 4) == -2
    assert mod.first_keyless(body, 0) == -1
    assert mod.first_keyless(b"", 1) == -2 and mod.first_keyless(body, 1, len(body)) == -2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(-2, 40), st.integers(0, 40))
def test_first_keyless_twins_agree_on_any_bytes(payload, count, pos):
    assert _cbatch.first_keyless(payload, count, pos) == _pybatch.first_keyless(payload, count, pos)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.binary(max_size=20)), min_size=1, max_size=20))
def test_first_keyless_twins_agree_on_real_records(keys):
    body = b"".join(encode_record(i, i, k, b"v", ()) for i, k in enumerate(keys))
    expected = next((i for i, k in enumerate(keys) if k is None), -1)
    for mod in TWINS:
        assert mod.first_keyless(body, len(keys)) == expected


def test_require_keys_uncompressed():
    ok = build_batch([(b"k", b"v")] * 3)
    batch.require_keys(ok, batch.validate(ok))
    bad = build_batch([(b"k", b"v"), (None, b"v")])
    with pytest.raises(batch.KeylessRecord) as err:
        batch.require_keys(bad, batch.validate(bad))
    assert err.value.error_code == INVALID_RECORD and err.value.batch_index == 1


@pytest.mark.parametrize("codec", CODECS)
def test_require_keys_compressed(codec):
    ok = build_batch([(b"k", b"v" * 100)] * 20, compression=codec)
    h = batch.validate(ok)
    batch.require_keys(ok, h)  # compressed: nothing to see without the payload
    batch.validate_compressed_records(ok, h, keys_required=True)
    bad = build_batch([(b"k", b"v" * 100)] * 19 + [(None, b"v")], compression=codec)
    h = batch.validate(bad)
    batch.validate_compressed_records(bad, h)  # fine for a topic that is not compacted
    with pytest.raises(batch.KeylessRecord) as err:
        batch.validate_compressed_records(bad, h, keys_required=True)
    assert err.value.batch_index == 19 and err.value.error_code != CORRUPT_MESSAGE
