"""Compression codecs of RecordBatch v2 (attributes bits 0-2).

The broker passes compressed batches through untouched; it decompresses only where it must read
records (internal topics, tools, tests) and compresses only the batches it builds itself.
Codecs come from libraries made for them: zlib (gzip, standard library) and cramjam (snappy,
lz4 frame, zstd; one maintained wheel with the reference C/Rust implementations).

Snappy on the wire comes in two forms: raw snappy blocks (librdkafka, kafka-python) and the
xerial framing of the Java client (magic b"\\x82SNAPPY\\x00", version, compat, then
[int32 length, raw block]*). Both are read; raw blocks are written, which every client reads.
"""
from __future__ import annotations

import struct
import zlib

import cramjam

from hpbroker.records.layout import GZIP, LZ4, NO_COMPRESSION, SNAPPY, ZSTD

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = 16  # magic (8) + version int32 + compatible version int32

NAMES = {NO_COMPRESSION: "none", GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}
BY_NAME = {v: k for k, v in NAMES.items()}


class CompressionError(ValueError):
    pass


def compress(codec: int, data: bytes) -> bytes:
    if codec == NO_COMPRESSION:
        return bytes(data)
    if codec == GZIP:
        c = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip container
        return c.compress(data) + c.flush()
    if codec == SNAPPY:
        return bytes(cramjam.snappy.compress_raw(data))
    if codec == LZ4:
        return bytes(cramjam.lz4.compress(data))
    if codec == ZSTD:
        return bytes(cramjam.zstd.compress(data))
    raise CompressionError(f"unknown compression codec {codec}")


def decompress(codec: int, data, max_size: int = 1 << 31) -> bytes:
    """Decompress a batch payload; ``max_size`` bounds what a hostile payload may expand to."""
    try:
        if codec == NO_COMPRESSION:
            return bytes(data)
        if codec == GZIP:
            d = zlib.decompressobj(47)  # gzip or zlib header, auto-detected
            out = d.decompress(bytes(data), max_size)
            if d.unconsumed_tail:
                raise CompressionError("gzip payload expands beyond the limit")
            return out
        if codec == SNAPPY:
            data = bytes(data)
            if data.startswith(_XERIAL_MAGIC):
                return _xerial_decompress(data)
            return bytes(cramjam.snappy.decompress_raw(data))
        if codec == LZ4:
            return bytes(cramjam.lz4.decompress(bytes(data)))
        if codec == ZSTD:
            return bytes(cramjam.zstd.decompress(bytes(data)))
    except CompressionError:
        raise
    except Exception as exc:  # codec libraries raise their own types for corrupt input
        raise CompressionError(f"{NAMES.get(codec, codec)} payload does not decompress: {exc}") from exc
    raise CompressionError(f"unknown compression codec {codec}")


def _xerial_decompress(data: bytes) -> bytes:
    out = []
    pos = _XERIAL_HEADER
    while pos < len(data):
        if pos + 4 > len(data):
            raise CompressionError("truncated xerial snappy block header")
        (n,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if n < 0 or pos + n > len(data):
            raise CompressionError("xerial snappy block length out of range")
        out.append(bytes(cramjam.snappy.decompress_raw(data[pos : pos + n])))
        pos += n
    return b"".join(out)
