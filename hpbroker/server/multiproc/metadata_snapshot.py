"""The topic registry in shared memory: what processors (and the other handlers) read when the
metadata generation moves, instead of re-reading ``__topics.json``.

Byte layout (little-endian), the whole ``metadata`` segment:

    offset 0    u64 current        the slot readers take: 0 or 1
    offset 8    slot 0             u64 sequence | u64 length | bytes[capacity]
    offset 24 + capacity  slot 1   the same

    sequence    0: never written; odd: being written; even: stable
    length      bytes of the snapshot (the registry as __topics.json holds it, UTF-8 JSON), or
                OVERSIZE: the registry did not fit, read __topics.json instead

One writer, the controller handler (at start-up, and after every registry change): it writes
the slot readers are *not* taking, between two bumps of that slot's sequence, then makes
it current. A reader copies the current slot and keeps the copy only if that slot's sequence was
even and unchanged across the copy (the writer came back to it in the meantime otherwise), so it
never parses a torn snapshot, and a writer killed half-way leaves the current slot intact. The
controller publishes before it bumps the metadata generation (topology.py), so a process that
sees the new generation finds the new snapshot.

Ordering: the writes are plain stores from Python, in program order (data, then the even
sequence, then ``current``), and a reader's loads likewise; x86-64 keeps both orders (TSO). The
registry changes a few times an hour, not per request, so no fence is spent on it.

Who may touch: the controller handler writes; every processor and handler reads.
"""

from __future__ import annotations

import struct
import time

_U64 = struct.Struct("<Q")
_SLOT_HEAD = struct.Struct("<QQ")  # sequence, length
HEAD_BYTES = 8
OVERSIZE = (1 << 64) - 1
READ_ATTEMPTS = 1000  # a copy races a write only while the controller rewrites the same slot twice


def snapshot_bytes(capacity: int) -> int:
    return HEAD_BYTES + 2 * (_SLOT_HEAD.size + capacity)


class MetadataSnapshot:
    def __init__(self, buf: memoryview, capacity: int):
        if len(buf) < snapshot_bytes(capacity):
            raise ValueError(f"{len(buf)} bytes cannot hold two slots of {capacity}")
        self.buf = buf
        self.capacity = capacity

    def _slot_at(self, slot: int) -> int:
        return HEAD_BYTES + slot * (_SLOT_HEAD.size + self.capacity)

    def publish(self, data: bytes) -> bool:
        """Make ``data`` the snapshot readers take; False (and readers are sent to the file) when
        it is larger than a slot."""
        current = _U64.unpack_from(self.buf, 0)[0]
        slot = 1 - current if current in (0, 1) else 0
        at = self._slot_at(slot)
        seq = _U64.unpack_from(self.buf, at)[0]
        seq = seq + 1 if seq % 2 == 0 else seq + 2  # odd: being written
        _U64.pack_into(self.buf, at, seq)
        fits = len(data) <= self.capacity
        if fits:
            self.buf[at + _SLOT_HEAD.size : at + _SLOT_HEAD.size + len(data)] = data
        _SLOT_HEAD.pack_into(self.buf, at, seq, len(data) if fits else OVERSIZE)
        _U64.pack_into(self.buf, at, seq + 1)  # even: stable
        _U64.pack_into(self.buf, 0, slot)
        return fits

    def read(self) -> bytes | None:
        """The current snapshot; None if there is none or it did not fit (read the file)."""
        for attempt in range(READ_ATTEMPTS):
            slot = _U64.unpack_from(self.buf, 0)[0]
            at = self._slot_at(slot if slot in (0, 1) else 0)
            seq, length = _SLOT_HEAD.unpack_from(self.buf, at)
            if seq == 0:
                return None
            if seq % 2 == 0:
                if length == OVERSIZE:
                    return None
                data = bytes(self.buf[at + _SLOT_HEAD.size : at + _SLOT_HEAD.size + min(length, self.capacity)])
                if _U64.unpack_from(self.buf, at)[0] == seq:
                    return data
            if attempt > 10:
                time.sleep(0.0001)
        raise RuntimeError("the metadata snapshot kept changing while being read")
