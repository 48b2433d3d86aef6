"""Hypothesis strategies for RecordBatch v2 tests: valid batches of every shape, and damage."""

from __future__ import annotations

import struct

from crc32c import crc32c
from hypothesis import strategies as st

from hpbroker.records.builder import build_batch
from hpbroker.records.layout import GZIP, LZ4, NO_COMPRESSION, SNAPPY, TIMESTAMP_TYPE_MASK, TRANSACTIONAL_MASK, ZSTD

CODECS = [NO_COMPRESSION, GZIP, SNAPPY, LZ4, ZSTD]

_bytes_or_none = st.none() | st.binary(max_size=64)
_headers = st.lists(st.tuples(st.text(max_size=8), _bytes_or_none), max_size=3)
_record = st.tuples(_bytes_or_none, _bytes_or_none, _headers, st.integers(0, 10**6))


@st.composite
def batches(draw, codecs=CODECS) -> bytearray:
    """A valid batch: any codec, keys/values null or not, headers, idempotent or not."""
    records = [(k, v, h, 1_700_000_000_000 + dt) for k, v, h, dt in draw(st.lists(_record, min_size=1, max_size=8))]
    idempotent = draw(st.booleans())
    attributes = 0
    if idempotent and draw(st.booleans()):
        attributes |= TRANSACTIONAL_MASK
    if draw(st.booleans()):
        attributes |= TIMESTAMP_TYPE_MASK
    return build_batch(
        records,
        base_offset=draw(st.integers(0, 2**40)),
        compression=draw(st.sampled_from(codecs)),
        producer_id=draw(st.integers(0, 2**40)) if idempotent else -1,
        producer_epoch=draw(st.integers(0, 2**15 - 1)) if idempotent else -1,
        base_sequence=draw(st.integers(0, 2**31 - 1)) if idempotent else -1,
        partition_leader_epoch=draw(st.integers(-1, 2**31 - 1)),
        attributes=attributes,
    )


def fix_crc(buf: bytearray) -> bytearray:
    """Recompute the CRC so damage inside it reaches the checks behind the CRC."""
    if len(buf) >= 61:
        struct.pack_into(">I", buf, 17, crc32c(memoryview(buf)[21:]))
    return buf


# header fields worth overwriting: (offset, struct format)
_FIELDS = [(8, ">i"), (16, ">b"), (21, ">h"), (23, ">i"), (43, ">q"), (53, ">i"), (57, ">i")]


@st.composite
def damaged(draw, base=None) -> bytearray:
    """A valid batch with one kind of damage: bit flip, truncation, garbage, or a header field
    rewritten (with the CRC fixed up half the time, so deeper checks are reached)."""
    buf = bytearray(draw(base if base is not None else batches()))
    kind = draw(st.sampled_from(["flip", "truncate", "append", "field", "field", "records"]))
    if kind == "flip":
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        del buf[draw(st.integers(0, len(buf) - 1)) :]
    elif kind == "append":
        buf += draw(st.binary(min_size=1, max_size=80))
    elif kind == "field":
        off, fmt = draw(st.sampled_from(_FIELDS))
        bits = struct.calcsize(fmt) * 8
        value = draw(
            st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            | st.sampled_from([-1, 0, 1, 2, 5, 7, 0x20, 0x25, 48, 49])
        )
        struct.pack_into(fmt, buf, off, value)
        if draw(st.booleans()):
            fix_crc(buf)
    else:  # rewrite record bytes (uncompressed: lengths and counts inside), CRC fixed
        if len(buf) > 61:
            i = draw(st.integers(61, len(buf) - 1))
            buf[i] = draw(st.integers(0, 255))
        fix_crc(buf)
    return buf
