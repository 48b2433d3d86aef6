# cython: language_level=3
"""Single-producer/single-consumer byte ring in shared memory, compiled.

Byte layout, record format, wake-up protocol and crash story: see the twin,
hpbroker/server/multiproc/_pyring.py (the reference this module must match byte for byte; the
parity test in tests/server/multiproc/test_ring.py writes with one and reads with the other).

    0    u64 head      consumer-written          64   u64 tail   producer-written
    8    u32 waiting   producer sets, consumer clears
    128  data[cap]     records: u32 length, payload, padding to 8; 0xFFFFFFFF = wrap marker

Reserved records (``reserve`` / ``publish`` / ``abandon``): the same semantics as the twin,
whose docstring says when a reservation may be held.

Here head and tail are C11 atomics (cython/server/multiproc/hpb_atomic.h): release/acquire to
publish and observe records, sequentially consistent for the store-then-load pairs that decide whether
the other side must be woken.

Who may touch: one producer process and one consumer process per ring, event loop thread only.
"""
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE

cdef extern from "server/multiproc/hpb_atomic.h":
    uint64_t hpb_load_acquire_u64(const uint64_t *p) nogil
    void hpb_store_release_u64(uint64_t *p, uint64_t v) nogil
    uint64_t hpb_load_seq_u64(const uint64_t *p) nogil
    void hpb_store_seq_u64(uint64_t *p, uint64_t v) nogil
    uint32_t hpb_load_seq_u32(const uint32_t *p) nogil
    void hpb_store_seq_u32(uint32_t *p, uint32_t v) nogil
    uint32_t hpb_exchange_u32(uint32_t *p, uint32_t v) nogil

HEADER = 128
HEAD_AT, WAITING_AT, TAIL_AT = 0, 8, 64
WRAP = 0xFFFFFFFF
FULL, WAKE, PUSHED = 0, 1, 2

DEF C_HEADER = 128
DEF C_WRAP = 0xFFFFFFFF


def ring_bytes(capacity):
    """Size of the shared-memory region of a ring with ``capacity`` data bytes."""
    return HEADER + capacity


cdef class Ring:
    cdef Py_buffer _view
    cdef bint _has_view
    cdef object _mv
    cdef unsigned char *_base
    cdef unsigned char *_data
    cdef uint64_t *_head_p
    cdef uint64_t *_tail_p
    cdef uint32_t *_waiting_p
    cdef uint64_t _head, _tail, _next, _mask
    cdef uint64_t _claimed  # tail after the record being written (producer)
    cdef bint _reserved  # a record handed out by ``reserve``, not yet published or abandoned
    cdef readonly Py_ssize_t capacity
    cdef readonly Py_ssize_t max_record

    def __cinit__(self, buf):
        self._has_view = False
        self._reserved = False

    def __init__(self, buf):
        PyObject_GetBuffer(buf, &self._view, PyBUF_SIMPLE | PyBUF_WRITABLE)
        self._has_view = True
        cdef Py_ssize_t cap = self._view.len - C_HEADER
        if cap < 64 or (cap & (cap - 1)):
            raise ValueError(f"ring data area must be a power of two >= 64, not {cap}")
        self._mv = memoryview(buf).cast("B")
        self._base = <unsigned char *> self._view.buf
        self._data = self._base + C_HEADER
        self._head_p = <uint64_t *> (self._base + 0)
        self._waiting_p = <uint32_t *> (self._base + 8)
        self._tail_p = <uint64_t *> (self._base + 64)
        self.capacity = cap
        self.max_record = cap // 2 - 8
        self._mask = cap - 1
        self._head = hpb_load_acquire_u64(self._head_p)
        self._tail = hpb_load_acquire_u64(self._tail_p)
        self._next = self._head

    def __dealloc__(self):
        if self._has_view:
            PyBuffer_Release(&self._view)
            self._has_view = False

    # producer ---------------------------------------------------------------------------------
    def try_push(self, head, body=b""):
        """Append one record ``head + body``: FULL (nothing written), WAKE (written; the
        consumer may be asleep) or PUSHED."""
        cdef const unsigned char[::1] h = head
        cdef const unsigned char[::1] b = body
        cdef Py_ssize_t hl = h.shape[0], bl = b.shape[0]
        cdef unsigned char *at = self._claim(hl + bl)
        if at == NULL:
            return FULL
        if hl:
            memcpy(at, &h[0], hl)
        if bl:
            memcpy(at + hl, &b[0], bl)
        return self._publish()

    def try_push_parts(self, head, parts):
        """Append one record made of ``head`` and then each of ``parts`` (bytes-like objects,
        typically memoryview slices of a connection's buffer), each copied straight into the
        ring, with no joined copy in between. Same results and rules as ``try_push``."""
        cdef const unsigned char[::1] h = head
        cdef Py_ssize_t hl = h.shape[0], length = hl, i, n, taken = 0
        cdef Py_buffer *views
        cdef unsigned char *at
        items = parts if type(parts) is list or type(parts) is tuple else list(parts)
        n = len(items)
        views = <Py_buffer *> PyMem_Malloc((n if n else 1) * sizeof(Py_buffer))
        if views == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                PyObject_GetBuffer(items[i], &views[i], PyBUF_SIMPLE)  # contiguous, or BufferError
                taken += 1
                length += views[i].len
            at = self._claim(length)
            if at == NULL:
                return FULL
            if hl:
                memcpy(at, &h[0], hl)
                at += hl
            for i in range(n):
                if views[i].len:
                    memcpy(at, views[i].buf, views[i].len)
                    at += views[i].len
            return self._publish()
        finally:
            for i in range(taken):
                PyBuffer_Release(&views[i])
            PyMem_Free(views)

    def reserve(self, Py_ssize_t length):
        """Claim a record of ``length`` payload bytes without publishing it: a writable
        memoryview of its payload, or None if the ring is full (the producer is then marked
        waiting, as by a failed ``try_push``). Follow with ``publish`` or ``abandon``."""
        cdef unsigned char *at = self._claim(length)
        if at == NULL:
            return None
        self._reserved = True
        cdef Py_ssize_t offset = at - self._base
        return self._mv[offset:offset + length]

    def publish(self):
        """Make the reserved record visible: WAKE (the consumer may be asleep) or PUSHED."""
        if not self._reserved:
            raise RuntimeError("no reserved record to publish")
        self._reserved = False
        return self._publish()

    def abandon(self):
        """Drop the reserved record: the consumer never sees it, its room is free again."""
        if not self._reserved:
            raise RuntimeError("no reserved record to abandon")
        self._reserved = False

    cdef unsigned char *_claim(self, Py_ssize_t length) except? NULL:
        """Room for a record of ``length`` payload bytes: write its length word (and a wrap
        marker first if it does not fit before the end) and return where the payload goes, or
        NULL if the ring is full. Nothing is visible to the consumer until ``_publish``."""
        if self._reserved:
            raise RuntimeError("a reserved record is still open")
        if length > self.max_record:
            raise ValueError(f"record of {length} bytes exceeds the ring's {self.max_record}")
        cdef uint64_t need = (4 + length + 7) & ~(<uint64_t> 7)
        cdef uint64_t tail = self._tail
        cdef uint64_t pos = tail & self._mask
        cdef uint64_t to_end = self.capacity - pos
        cdef uint64_t total = need + (to_end if need > to_end else 0)
        if total > self.capacity - (tail - hpb_load_acquire_u64(self._head_p)):
            hpb_store_seq_u32(self._waiting_p, 1)
            if total > self.capacity - (tail - hpb_load_seq_u64(self._head_p)):
                return NULL
        if need > to_end:
            (<uint32_t *> (self._data + pos))[0] = C_WRAP
            tail += to_end
            pos = 0
        cdef unsigned char *at = self._data + pos
        (<uint32_t *> at)[0] = <uint32_t> length
        self._claimed = tail + need
        return at + 4

    cdef object _publish(self):
        """Make the claimed record visible: WAKE if the consumer had drained the ring."""
        cdef uint64_t old_tail = self._tail
        self._tail = self._claimed
        hpb_store_seq_u64(self._tail_p, self._tail)
        return WAKE if hpb_load_seq_u64(self._head_p) == old_tail else PUSHED

    def can_push(self, Py_ssize_t length):
        """Would a record of ``length`` bytes fit now? If not, mark the producer waiting."""
        if self._reserved:
            raise RuntimeError("a reserved record is still open")
        cdef uint64_t need = (4 + length + 7) & ~(<uint64_t> 7)
        cdef uint64_t to_end = self.capacity - (self._tail & self._mask)
        cdef uint64_t total = need + (to_end if need > to_end else 0)
        if total <= self.capacity - (self._tail - hpb_load_acquire_u64(self._head_p)):
            return True
        hpb_store_seq_u32(self._waiting_p, 1)
        return total <= self.capacity - (self._tail - hpb_load_seq_u64(self._head_p))

    def free_bytes(self):
        return self.capacity - (self._tail - hpb_load_acquire_u64(self._head_p))

    # consumer ---------------------------------------------------------------------------------
    def peek(self):
        """A memoryview of the next record's payload (valid until ``release``), or None."""
        cdef uint64_t head = self._head
        if head == hpb_load_acquire_u64(self._tail_p):
            return None
        cdef uint64_t pos = head & self._mask
        cdef uint32_t length = (<uint32_t *> (self._data + pos))[0]
        if length == C_WRAP:
            head += self.capacity - pos
            self._head = head
            pos = 0
            length = (<uint32_t *> self._data)[0]
        self._next = head + ((4 + length + 7) & ~(<uint64_t> 7))
        cdef Py_ssize_t at = C_HEADER + pos + 4
        return self._mv[at:at + length]

    def release(self):
        """Free the record returned by ``peek``; True if the producer waits for space."""
        self._head = self._next
        hpb_store_seq_u64(self._head_p, self._head)
        if hpb_load_seq_u32(self._waiting_p):
            return hpb_exchange_u32(self._waiting_p, 0) != 0
        return False

    def discard_all(self):
        """Consumer side: drop every unread record. True if the producer waits."""
        self._head = hpb_load_acquire_u64(self._tail_p)
        self._next = self._head
        return self.release()

    def close(self):
        if self._has_view:
            PyBuffer_Release(&self._view)
            self._has_view = False
        self._mv.release()
