"""Random and mutated frames decode to a value or raise ProtocolError, nothing else."""

import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpbroker.protocol import (
    MESSAGES,
    SUPPORTED_VERSIONS,
    ProtocolError,
    decode_request,
    decode_request_header,
    decode_response,
    encode_request,
    encode_response,
    frame_size,
)

from .samples import sample

PAIRS = [(k, v) for k, (lo, hi) in SUPPORTED_VERSIONS.items() for v in range(lo, hi + 1)]


def _decode_frame(frame: bytes):
    """What the server does with a request frame (after the size prefix)."""
    try:
        header, offset = decode_request_header(frame, 0)
        return decode_request(header.api_key, header.api_version, frame, offset)
    except ProtocolError:
        return None


def _valid_frames():
    frames = []
    for key, version in PAIRS:
        for nulls in (False, True):
            body = sample(MESSAGES[key][0].fields, version, nulls)
            frames.append(encode_request(key, version, 1, "c", body)[4:])
    return frames


FRAMES = _valid_frames()


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(buf):
    _decode_frame(buf)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=st.sampled_from(PAIRS), body=st.binary(max_size=120))
def test_random_bodies_for_every_api(pair, body):
    key, version = pair
    for decode in (decode_request, decode_response):
        try:
            decode(key, version, body, 0)
        except ProtocolError:
            pass


@settings(max_examples=1000, deadline=None)
@given(
    index=st.integers(0, len(FRAMES) - 1),
    seed=st.integers(0, 2**32),
    kind=st.sampled_from(["flip", "truncate", "insert", "max", "splice"]),
)
def test_mutated_frames(index, seed, kind):
    rng = random.Random(seed)
    frame = bytearray(FRAMES[index])
    at = rng.randrange(len(frame))
    if kind == "flip":
        frame[at] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del frame[at:]
    elif kind == "insert":
        frame[at:at] = bytes([rng.randrange(256)])
    elif kind == "max":
        frame[at : at + 4] = b"\x7f\xff\xff\xff"  # huge length or count
    else:
        frame[at : at + 2] = b"\xff\xfe"  # negative length other than null
    _decode_frame(bytes(frame))


def test_huge_count_is_rejected_before_allocating():
    # Metadata v1 with "topics" announcing 2**31-1 elements in a 20-byte frame
    frame = encode_request(3, 1, 1, None, {"topics": []})[4:]
    hostile = frame[:-4] + b"\x7f\xff\xff\xff"
    with pytest.raises(ProtocolError):
        _decode_strict(hostile)


def _decode_strict(frame):
    header, offset = decode_request_header(frame, 0)
    return decode_request(header.api_key, header.api_version, frame, offset)


def test_unknown_api_and_version():
    with pytest.raises(ProtocolError):
        decode_request(99, 0, b"", 0)
    with pytest.raises(ProtocolError):
        decode_request(0, 2, b"", 0)  # Produce v2 (magic 0/1) is not supported
    header, offset = decode_request_header(b"\x00\x63\x00\x00\x00\x00\x00\x01\xff\xff", 0)
    assert header == (99, 0, 1, None) and offset == 10


def test_frame_size():
    assert frame_size(b"\x00\x00") is None
    assert frame_size(b"\x00\x00\x01\x00") == 256
    with pytest.raises(ProtocolError):
        frame_size(b"\xff\xff\xff\xff")
    with pytest.raises(ProtocolError):
        frame_size(b"\x10\x00\x00\x00", max_size=1024)


def test_responses_survive_truncation():
    for key, version in PAIRS:
        frame = encode_response(key, version, 1, sample(MESSAGES[key][1].fields, version, False))
        for cut in range(8, len(frame), max(1, len(frame) // 7)):
            try:
                decode_response(key, version, frame[:cut], 8)
            except ProtocolError:
                pass


try:
    from hpbroker.protocol import _cprimitives
except ImportError:  # pragma: no cover
    _cprimitives = None


def _outcome(fn, buf, offset):
    try:
        value, pos = fn(memoryview(buf), offset)
    except ProtocolError:
        return "ProtocolError"
    except (struct.error, IndexError, OverflowError):  # what codec._decode turns into ProtocolError
        return "ProtocolError"
    return value, pos


@pytest.mark.skipif(_cprimitives is None, reason="compiled primitives not built")
@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(FRAMES) - 1), seed=st.integers(0, 2**32))
def test_generated_decoders_agree_on_both_primitive_twins(index, seed):
    from hpbroker.protocol import _pyprimitives, codegen

    rng = random.Random(seed)
    frame = bytearray(FRAMES[index])
    for _ in range(rng.randrange(1, 4)):
        frame[rng.randrange(len(frame))] = rng.randrange(256)
    header, offset = decode_request_header(FRAMES[index], 0)
    message = MESSAGES[header.api_key][0]
    fast = codegen.build(message, header.api_version, "decode", _cprimitives)
    slow = codegen.build(message, header.api_version, "decode", _pyprimitives)
    assert _outcome(fast, bytes(frame), offset) == _outcome(slow, bytes(frame), offset)
