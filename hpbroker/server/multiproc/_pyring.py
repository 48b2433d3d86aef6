"""Single-producer/single-consumer byte ring in shared memory: the pure-Python twin.

Byte layout of one ring (little-endian, native to the machines we run on; both ends are
processes of the same broker on the same host):

    offset  size  field
    0       8     head      bytes consumed so far (u64, only the consumer writes it)
    8       4     waiting   1 = the producer found the ring full and waits for a wake-up
                            (u32, the producer sets it, the consumer clears it)
    64      8     tail      bytes produced so far (u64, only the producer writes it); head and
                            tail sit on separate cache lines so the two sides do not share one
    128     cap   data      ``cap`` is a power of two; a position is ``counter & (cap - 1)``

A record is ``u32 length`` + ``length`` payload bytes, padded to a multiple of 8 so every
length field is aligned. A record never wraps: when it does not fit before the end of the data
area, the producer writes the wrap marker 0xFFFFFFFF and starts the record at position 0.
Records are at most ``cap // 2 - 8`` bytes, which guarantees that an empty ring always has room
for one (after a wrap), so a maximal record can never deadlock. ``try_push_parts`` writes one
record gathered from a head and several buffers (views of a connection's frame) in order: the
layout is the same as ``try_push`` of their concatenation, which is never built.

Reserved records: ``reserve(length)`` claims a record exactly as ``try_push`` would (wrap
marker, length word, the same room check) and returns a writable view of its payload instead of
filling it; ``publish()`` then makes it visible, ``abandon()`` forgets it (the bytes written
past ``tail`` are never read: the next record is claimed over them). While a reservation is open
the ring refuses every other push, ``can_push`` and a second ``reserve`` (RuntimeError): a
second record would be claimed at the same position. A reservation must be published or
abandoned before the event loop runs anything else, since it holds this ring's tail for every
connection of the process (server/multiproc/processor.py says which frames take this path).

Publication: the producer writes the record, then stores ``tail``; the consumer reads ``tail``,
then the record, and stores ``head`` when it no longer needs the bytes. Wake-ups: after storing
``tail`` the producer loads ``head``; if it equals the old tail the consumer had drained the ring
and may be asleep, so ``try_push`` returns WAKE and the caller writes the consumer's eventfd.
Symmetrically ``release`` reports a waiting producer. The compiled twin (cython/server/multiproc/_cring.pyx)
does these loads and stores with C11 atomics; this twin relies on CPython storing an aligned
8-byte memoryview item with one move (a memcpy of the word), which holds on x86-64 and aarch64;
not on ``struct.pack_into``, which zero-fills the field first. Both ends also drain on
a slow timer, so a lost wake-up costs latency, never a stuck request.

Crash story: nothing in a ring is durable. A record becomes visible only when ``tail`` moves
past it, so a producer killed mid-write leaves no torn record. A restarted consumer re-reads
``head``; the broker discards what a dead peer left (see server/multiproc/topology.py).

Who may touch: exactly one producer process and one consumer process per ring; within each,
the event loop thread only.
"""

from __future__ import annotations

import struct
import sys

HEADER = 128
HEAD_AT, WAITING_AT, TAIL_AT = 0, 8, 64
WRAP = 0xFFFFFFFF
FULL, WAKE, PUSHED = 0, 1, 2

# Length words in the data area are written before their record is published, so struct is
# fine for them. The shared words (head, tail, waiting) are read and written through memoryview
# casts instead: ``Struct.pack_into`` zero-fills the field before it writes the value, so the
# other process could read a transient 0 tail and take garbage for a record (seen under load);
# a memoryview item store is one memcpy of the whole word. Native order: the layout is
# little-endian, as on every host this runs on (the compiled twin uses native words too).
if sys.byteorder != "little":
    raise ImportError("the shared-memory ring layout is little-endian; this host is not")
_U32 = struct.Struct("<I")
_HEAD, _TAIL, _WAITING = HEAD_AT // 8, TAIL_AT // 8, WAITING_AT // 4


def ring_bytes(capacity: int) -> int:
    """Size of the shared-memory region of a ring with ``capacity`` data bytes."""
    return HEADER + capacity


class Ring:
    def __init__(self, buf):
        mv = memoryview(buf).cast("B")
        cap = len(mv) - HEADER
        if cap < 64 or cap & (cap - 1):
            raise ValueError(f"ring data area must be a power of two >= 64, not {cap}")
        self._mv = mv
        self.capacity = cap
        self.max_record = cap // 2 - 8
        self._mask = cap - 1
        self._u64 = mv[:HEADER].cast("Q")  # head, tail
        self._u32 = mv[:HEADER].cast("I")  # waiting
        self._head = self._u64[_HEAD]  # consumer's copy
        self._tail = self._u64[_TAIL]  # producer's copy
        self._next = -1
        self._claimed = self._tail  # tail after the record being written (producer)
        self._reserved = False  # a record handed out by ``reserve``, not yet published or abandoned

    # producer ---------------------------------------------------------------------------------
    def try_push(self, head: bytes, body=b"") -> int:
        """Append one record ``head + body``: FULL (nothing written), WAKE (written; the
        consumer may be asleep) or PUSHED."""
        return self.try_push_parts(head, (body,))

    def try_push_parts(self, head: bytes, parts) -> int:
        """Append one record made of ``head`` and then each of ``parts`` (bytes-like objects,
        typically memoryview slices of a connection's buffer), each copied straight into the
        ring, with no joined copy in between. Same results and rules as ``try_push``."""
        views = [memoryview(p).cast("B") for p in parts]
        length = len(head) + sum(v.nbytes for v in views)
        at = self._claim(length)
        if at < 0:
            return FULL
        mv = self._mv
        mv[at : at + len(head)] = head
        at += len(head)
        for v in views:
            mv[at : at + v.nbytes] = v
            at += v.nbytes
        return self._publish()

    def reserve(self, length: int):
        """Claim a record of ``length`` payload bytes without publishing it: a writable
        memoryview of its payload, or None if the ring is full (the producer is then marked
        waiting, as by a failed ``try_push``). Follow with ``publish`` or ``abandon``."""
        at = self._claim(length)
        if at < 0:
            return None
        self._reserved = True
        return self._mv[at : at + length]

    def publish(self) -> int:
        """Make the reserved record visible: WAKE (the consumer may be asleep) or PUSHED."""
        if not self._reserved:
            raise RuntimeError("no reserved record to publish")
        self._reserved = False
        return self._publish()

    def abandon(self) -> None:
        """Drop the reserved record: the consumer never sees it, its room is free again."""
        if not self._reserved:
            raise RuntimeError("no reserved record to abandon")
        self._reserved = False

    def _claim(self, length: int) -> int:
        """Room for a record of ``length`` payload bytes: write its length word (and a wrap
        marker first if it does not fit before the end) and return where the payload goes, or
        -1 if the ring is full. Nothing is visible to the consumer until ``_publish``."""
        if self._reserved:
            raise RuntimeError("a reserved record is still open")
        if length > self.max_record:
            raise ValueError(f"record of {length} bytes exceeds the ring's {self.max_record}")
        mv = self._mv
        need = (4 + length + 7) & ~7
        tail = self._tail
        pos = tail & self._mask
        to_end = self.capacity - pos
        total = need + (to_end if need > to_end else 0)
        if total > self.capacity - (tail - self._u64[_HEAD]):
            self._u32[_WAITING] = 1
            if total > self.capacity - (tail - self._u64[_HEAD]):
                return -1
        if need > to_end:
            _U32.pack_into(mv, HEADER + pos, WRAP)
            tail += to_end
            pos = 0
        _U32.pack_into(mv, HEADER + pos, length)
        self._claimed = tail + need
        return HEADER + pos + 4

    def _publish(self) -> int:
        """Make the claimed record visible: WAKE if the consumer had drained the ring."""
        old_tail, self._tail = self._tail, self._claimed
        self._u64[_TAIL] = self._tail
        return WAKE if self._u64[_HEAD] == old_tail else PUSHED

    def can_push(self, length: int) -> bool:
        """Would a record of ``length`` bytes fit now? If not, the producer is marked waiting
        (exactly as a failed ``try_push``), so the consumer's next ``release`` reports it."""
        if self._reserved:
            raise RuntimeError("a reserved record is still open")
        need = (4 + length + 7) & ~7
        to_end = self.capacity - (self._tail & self._mask)
        total = need + (to_end if need > to_end else 0)
        if total <= self.capacity - (self._tail - self._u64[_HEAD]):
            return True
        self._u32[_WAITING] = 1
        return total <= self.capacity - (self._tail - self._u64[_HEAD])

    def free_bytes(self) -> int:
        return self.capacity - (self._tail - self._u64[_HEAD])

    # consumer ---------------------------------------------------------------------------------
    def peek(self):
        """A memoryview of the next record's payload (valid until ``release``), or None."""
        mv = self._mv
        head = self._head
        if head == self._u64[_TAIL]:
            return None
        pos = head & self._mask
        length = _U32.unpack_from(mv, HEADER + pos)[0]
        if length == WRAP:
            head += self.capacity - pos
            self._head = head
            pos = 0
            length = _U32.unpack_from(mv, HEADER)[0]
        self._next = head + ((4 + length + 7) & ~7)
        at = HEADER + pos + 4
        return mv[at : at + length]

    def release(self) -> bool:
        """Free the record returned by ``peek``; True if the producer waits for space."""
        self._head = self._next
        self._u64[_HEAD] = self._head
        if self._u32[_WAITING]:
            self._u32[_WAITING] = 0
            return True
        return False

    def discard_all(self) -> bool:
        """Consumer side: drop every unread record (a restarted consumer whose peer's requests
        are being answered by closing their connections). True if the producer waits."""
        self._head = self._u64[_TAIL]
        self._next = self._head
        return self.release()

    def close(self) -> None:
        self._mv.release()
