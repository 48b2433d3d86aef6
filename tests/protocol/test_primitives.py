"""The Cython primitive codec and its pure twin agree on random and hostile input."""

import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpbroker.protocol import _pyprimitives as py
from hpbroker.protocol.errors import ProtocolError

try:
    c = importlib.import_module("hpbroker.protocol._cprimitives")
except ImportError:  # pragma: no cover - a broken build is reported by tests/test_speedups.py
    c = None

needs_c = pytest.mark.skipif(c is None, reason="compiled primitives not built")

READERS = [
    "read_request_header",
    "read_uvarint",
    "read_string",
    "read_compact_string",
    "read_bytes",
    "read_compact_bytes",
    "skip_tagged_fields",
]
COUNTERS = ["read_count", "read_compact_count"]


def _outcome(fn, *args):
    try:
        value = fn(*args)
    except ProtocolError:
        return "ProtocolError"
    if isinstance(value, tuple):
        return tuple(bytes(v) if isinstance(v, memoryview) else v for v in value)
    return value


# Inputs biased toward the interesting cases: short buffers, -1/-2 lengths, long varints.
_edge = st.sampled_from(
    [
        b"",
        b"\x00",
        b"\xff",
        b"\xff\xff",
        b"\xff\xfe",
        b"\x80" * 6,
        b"\x00\x05ab",
        b"\x03\xc3\x28",
        b"\x7f\xff\xff\xff",
        b"\x81\x01",
    ]
)
buffers = st.one_of(st.binary(max_size=40), st.builds(lambda a, b: a + b, _edge, st.binary(max_size=12)))


@needs_c
@settings(max_examples=400, deadline=None)
@given(buf=buffers, pos=st.integers(-2, 12), name=st.sampled_from(READERS))
def test_readers_agree(buf, pos, name):
    mv = memoryview(buf)
    assert _outcome(getattr(c, name), mv, pos) == _outcome(getattr(py, name), mv, pos)


@needs_c
@settings(max_examples=400, deadline=None)
@given(buf=buffers, pos=st.integers(-1, 4), flex=st.sampled_from([{}, {0: 0}, {1: 2, 0: 9}]))
def test_full_request_header_agrees(buf, pos, flex):
    head = b"\x00\x00\x00\x02\x00\x00\x00\x07\xff\xff"  # api key 0, version 2, null client_id
    for data in (buf, head + buf):
        assert _outcome(c.read_request_header_full, data, pos, flex) == _outcome(
            py.read_request_header_full, data, pos, flex
        )


@needs_c
@settings(max_examples=300, deadline=None)
@given(buf=buffers, pos=st.integers(0, 8), min_size=st.integers(1, 40), name=st.sampled_from(COUNTERS))
def test_counts_agree(buf, pos, min_size, name):
    assert _outcome(getattr(c, name), buf, pos, min_size) == _outcome(getattr(py, name), buf, pos, min_size)


@needs_c
@given(st.integers(0, 0xFFFFFFFF))
def test_uvarint_agree_and_round_trip(n):
    assert c.write_uvarint(n) == py.write_uvarint(n)
    assert py.read_uvarint(py.write_uvarint(n), 0) == (n, len(py.write_uvarint(n)))


@pytest.mark.parametrize("mod", [py] + ([c] if c else []), ids=lambda m: m.__name__)
def test_hostile_lengths(mod):
    with pytest.raises(ProtocolError):
        mod.read_string(b"\xff\xfe", 0)  # -2 is not null
    with pytest.raises(ProtocolError):
        mod.read_bytes(b"\x7f\xff\xff\xffab", 0)  # 2 GiB announced, 2 bytes there
    with pytest.raises(ProtocolError):
        mod.read_count(b"\x00\x10\x00\x00" + b"\x00" * 8, 0, 4)
    with pytest.raises(ProtocolError):
        mod.read_uvarint(b"\x80\x80\x80\x80\x80\x01", 0)
    with pytest.raises(ProtocolError):
        mod.read_string(b"\x00\x02\xc3\x28", 0)  # invalid UTF-8
    assert mod.read_string(b"\xff\xff", 0) == (None, 2)
    assert mod.read_compact_count(b"\x00", 0, 1) == (-1, 1)
    assert mod.write_uvarint(300) == b"\xac\x02"
    with pytest.raises(ValueError):
        mod.write_uvarint(-1)


def test_bytes_are_zero_copy_slices():
    buf = bytearray(b"\x00\x00\x00\x03abcz")
    value, pos = py.read_bytes(memoryview(buf), 0)
    buf[4] = ord("X")
    assert bytes(value) == b"Xbc" and pos == 7
    if c:
        value, _ = c.read_bytes(memoryview(buf), 0)
        assert isinstance(value, memoryview) and value.obj is buf
