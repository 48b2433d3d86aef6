"""Compression codecs of RecordBatch v2 (attributes bits 0-2).

The broker stores compressed batches as the client sent them, unless the topic's
compression.type names another codec (then the batch is recompressed on append, at the
topic's ``compression.<codec>.level``); it decompresses where it must read records (internal
topics, tools, tests, the log cleaner) and, on every compressed Produce, to count the records a
batch holds against its recordsCount (``batch.validate_compressed_records``, into a reused
scratch buffer: ``decompressed_view``). Otherwise it compresses only the batches it builds
itself (and those the log cleaner rebuilds, with their codec at its default level).
Codecs come from libraries made for them: zlib (gzip, standard library) and cramjam (snappy,
lz4 frame, zstd; one maintained wheel with the reference C/Rust implementations).

Snappy on the wire comes in two forms: raw snappy blocks (librdkafka, kafka-python) and the
xerial framing of the Java client (magic b"\\x82SNAPPY\\x00", version, compat, then
[int32 length, raw block]*). Both are read; raw blocks are written, which every client reads.

Every decompression is bounded by ``max_size`` before the output is allocated or while it is
written, so a hostile payload (a "zip bomb" inside a 1 MiB produce request) cannot take the
broker's memory: gzip through zlib's max_length, snappy through the length each raw block
declares up front, lz4 and zstd by decompressing into a buffer of ``max_size + 1`` bytes that
the codec may not overrun (numpy.empty: pages are only committed as the codec writes them).
"""

from __future__ import annotations

import struct
import threading
import zlib
from typing import Any

import cramjam
import numpy

from hpbroker.records.layout import GZIP, LZ4, NO_COMPRESSION, SNAPPY, ZSTD

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = 16  # magic (8) + version int32 + compatible version int32

NAMES = {NO_COMPRESSION: "none", GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}
BY_NAME = {v: k for k, v in NAMES.items()}


#: Default bound on what one batch payload may expand to (records.iter_records uses it too)
MAX_DECOMPRESSED = 1 << 28


class CompressionError(ValueError):
    """A payload that does not decompress, or expands beyond the allowed size."""


def compress(codec: int, data: bytes, level: int | None = None) -> bytes:
    """``data`` compressed by ``codec``; ``level`` as Kafka's compression.<codec>.level (None,
    or gzip's -1: the library's default; snappy has none)."""
    if codec == NO_COMPRESSION:
        return bytes(data)
    if codec == GZIP:
        c = zlib.compressobj(6 if level is None or level < 0 else level, zlib.DEFLATED, 31)  # 31: gzip container
        return c.compress(data) + c.flush()
    if codec == SNAPPY:
        return bytes(cramjam.snappy.compress_raw(data))
    if codec == LZ4:
        return bytes(cramjam.lz4.compress(data) if level is None else cramjam.lz4.compress(data, level=level))
    if codec == ZSTD:
        return bytes(cramjam.zstd.compress(data) if level is None else cramjam.zstd.compress(data, level=level))
    raise CompressionError(f"unknown compression codec {codec}")


def decompress(codec: int, data, max_size: int = MAX_DECOMPRESSED) -> bytes:
    """Decompress a batch payload; ``max_size`` bounds what a hostile payload may expand to."""
    name = NAMES.get(codec, codec)
    try:
        if codec == NO_COMPRESSION:
            out = bytes(data)
        elif codec == GZIP:
            d = zlib.decompressobj(47)  # gzip or zlib header, auto-detected
            out = d.decompress(bytes(data), max_size)
            if d.unconsumed_tail:
                raise CompressionError(f"gzip payload expands beyond {max_size} bytes")
            if not d.eof:
                raise CompressionError("gzip payload is truncated")
        elif codec == SNAPPY:
            data = bytes(data)
            if data.startswith(_XERIAL_MAGIC):
                out = _xerial_decompress(data, max_size)
            else:
                out = _snappy_block(data, max_size)
        elif codec in (LZ4, ZSTD):
            out = _decompress_bounded(cramjam.lz4 if codec == LZ4 else cramjam.zstd, data, max_size)
        else:
            raise CompressionError(f"unknown compression codec {codec}")
    except CompressionError:
        raise
    except Exception as exc:  # codec libraries raise their own types for corrupt input
        raise CompressionError(f"{name} payload does not decompress: {exc}") from exc
    if len(out) > max_size:
        raise CompressionError(f"{name} payload expands beyond {max_size} bytes")
    return out


def _decompress_bounded(module, data, max_size: int) -> bytes:
    # One byte of slack tells "exactly max_size" from "more than max_size": the codec fails
    # ("failed to write whole buffer") when the output does not fit.
    out = numpy.empty(max_size + 1, numpy.uint8)
    try:
        n = module.decompress_into(bytes(data), out)
    except Exception as exc:
        raise CompressionError(f"payload does not decompress within {max_size} bytes: {exc}") from exc
    if n > max_size:
        raise CompressionError(f"payload expands beyond {max_size} bytes")
    return out[:n].tobytes()


#: The scratch buffer of ``decompressed_view`` starts at this size and grows (x4) up to the
#: bound; one above SCRATCH_KEEP is dropped after use instead of being kept for the next batch.
SCRATCH_START = 4 << 20
SCRATCH_KEEP = 64 << 20


class _Scratch(threading.local):
    buf: Any = None  # a numpy uint8 array the codecs decompress into, reused per thread


_scratch = _Scratch()


def decompressed_view(codec: int, data, max_size: int = MAX_DECOMPRESSED) -> memoryview:
    """Decompress a batch payload into this thread's scratch buffer; a view of the output, valid
    until this thread's next call. For checks that only read the records (the count check of a
    compressed Produce): ``decompress`` allocates a fresh buffer per batch, faults its pages in
    and copies the output out again, which cost more than the decompression itself.

    Same bound and errors as ``decompress``. lz4, zstd and raw snappy go into the scratch
    (grown x4 while the output does not fit, up to ``max_size + 1``); gzip and xerial snappy
    take ``decompress``'s path."""
    if codec == GZIP or codec == SNAPPY and bytes(data[: len(_XERIAL_MAGIC)]) == _XERIAL_MAGIC:
        return memoryview(decompress(codec, data, max_size))
    if codec not in (SNAPPY, LZ4, ZSTD):
        raise CompressionError(f"unknown compression codec {codec}")
    name = NAMES[codec]
    want = SCRATCH_START
    while True:
        want = min(want, max_size + 1)
        buf = _scratch.buf
        if buf is None or len(buf) < want:
            buf = _scratch.buf = numpy.empty(want, numpy.uint8)
        try:
            if codec == SNAPPY:
                need = cramjam.snappy.decompress_raw_len(data)
                if need > max_size:
                    raise CompressionError(f"snappy payload expands beyond {max_size} bytes")
                if need > len(buf):
                    want = need
                    continue
                n = cramjam.snappy.decompress_raw_into(data, buf)
            else:
                n = (cramjam.lz4 if codec == LZ4 else cramjam.zstd).decompress_into(data, buf)
        except CompressionError:
            raise
        except Exception as exc:  # corrupt, or does not fit this scratch
            if len(buf) > max_size:
                raise CompressionError(f"{name} payload does not decompress within {max_size} bytes: {exc}") from exc
            want = len(buf) * 4
            continue
        if n > max_size:
            raise CompressionError(f"{name} payload expands beyond {max_size} bytes")
        if len(buf) > SCRATCH_KEEP:
            _scratch.buf = None  # the view keeps it alive while the caller reads
        return memoryview(buf)[:n]


def _snappy_block(data: bytes, max_size: int) -> bytes:
    # A raw snappy block starts with its uncompressed length: check it before allocating
    if cramjam.snappy.decompress_raw_len(data) > max_size:
        raise CompressionError(f"snappy payload expands beyond {max_size} bytes")
    return bytes(cramjam.snappy.decompress_raw(data))


def _xerial_decompress(data: bytes, max_size: int) -> bytes:
    out = []
    total = 0
    pos = _XERIAL_HEADER
    while pos < len(data):
        if pos + 4 > len(data):
            raise CompressionError("truncated xerial snappy block header")
        (n,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if n < 0 or pos + n > len(data):
            raise CompressionError("xerial snappy block length out of range")
        block = _snappy_block(data[pos : pos + n], max_size - total)
        total += len(block)
        out.append(block)
        pos += n
    return b"".join(out)
