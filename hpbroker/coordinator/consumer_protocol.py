"""The "consumer" embedded protocol: what JoinGroup metadata and SyncGroup assignments hold when
protocol_type is "consumer" (Kafka's ConsumerProtocolSubscription / ConsumerProtocolAssignment).
The broker never needs to read them; tools (``hpbroker groups describe``) do.

Byte layout (non-flexible, int16 string lengths, int32 array counts, big-endian)::

    ConsumerProtocolAssignment (versions 0-3, same fields)
        version int16 | assigned_partitions [topic string, partitions [int32]] | user_data nullable bytes
    ConsumerProtocolSubscription
        version int16 | topics [string] | user_data nullable bytes
        | owned_partitions [topic string, partitions [int32]] (v1+) | generation_id int32 (v2+)
        | rack_id nullable string (v3+)

Newer versions only append fields, so a reader stops after the fields it knows.
"""

from __future__ import annotations

import struct

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


class _Reader:
    def __init__(self, buf):
        self.buf = bytes(buf)
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError("consumer protocol bytes truncated")
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b

    def i16(self):
        return _I16.unpack(self.take(2))[0]

    def i32(self):
        return _I32.unpack(self.take(4))[0]

    def str(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def partitions(self):
        return [(self.str(), [self.i32() for _ in range(self.i32())]) for _ in range(self.i32())]


def decode_assignment(buf) -> list[tuple[str, list[int]]]:
    """[(topic, [partitions])] of a ConsumerProtocolAssignment; [] for empty bytes."""
    if not buf:
        return []
    r = _Reader(buf)
    r.i16()
    return r.partitions()


def encode_assignment(assigned: list[tuple[str, list[int]]], version: int = 0, user_data: bytes | None = None) -> bytes:
    out = bytearray(_I16.pack(version))
    out += _I32.pack(len(assigned))
    for topic, parts in assigned:
        t = topic.encode()
        out += _I16.pack(len(t)) + t + _I32.pack(len(parts))
        for p in parts:
            out += _I32.pack(p)
    out += _I32.pack(-1) if user_data is None else _I32.pack(len(user_data)) + user_data
    return bytes(out)


def decode_subscription(buf) -> list[str]:
    """Subscribed topics of a ConsumerProtocolSubscription; [] for empty bytes."""
    if not buf:
        return []
    r = _Reader(buf)
    r.i16()
    return [r.str() for _ in range(r.i32())]
