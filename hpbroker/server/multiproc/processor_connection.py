"""A processor's client connections (the multi-process topology, server/multiproc/processor.py):
each complete request frame is handed to the processor's router (``ProcessorServer.route``)
instead of being served here; a large Produce whose bytes are already in the kernel is received
straight into a record reserved in its owner's request ring; a frame the rings cannot take yet
waits (``retry``) with reading paused, so nothing overtakes it. ``Pending`` is a request pushed
to one or more handlers, waiting for their answers.

Who may touch: the processor's event loop only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hpbroker.handlers import REGISTRY
from hpbroker.server import scheduling
from hpbroker.server.connection import Connection, readable_bytes
from hpbroker.server.multiproc import envelope as env
from hpbroker.server.multiproc.routing import PRODUCE, owner, produce_first_partition
from hpbroker.server.tls_connection import TlsConnection

_PRODUCE_VERSIONS = (REGISTRY[PRODUCE].MIN_VERSION, REGISTRY[PRODUCE].MAX_VERSION)


@dataclass(slots=True)
class Pending:
    conn: ProcessorConnection
    seq: int
    api_key: int
    api_version: int
    correlation_id: int
    handlers: tuple
    request: object  # what joining the answers needs: a split Produce's produce_split.Order,
    #                  another split request's topics and partitions (partition_order), or the
    #                  group ids it named
    incarnations: tuple = ()  # each handler's incarnation when the request was pushed to it
    request_bytes: int = 0  # request metrics: its size, and when it was received (monotonic ns)
    received_ns: int = 0
    answered_ns: int = 0  # when the last handler to answer pushed its answer
    parts: list = field(default_factory=list)


class ProcessorConnection(Connection):
    def __init__(self, server, sock, peer, conn_id, session):
        super().__init__(server, sock, peer, session)
        self.conn_id = conn_id
        self._stalled = None  # a large frame waiting for ring space (a view of _big)
        self._session_bytes: tuple | None = None  # (principal, envelope session bytes)
        self._big: bytearray | None = None
        self.request_bytes = 0  # size of the frame being routed (request metrics)

    @property
    def stamp(self) -> int:
        """When the frame being routed arrived, as request envelopes carry it."""
        return env.stamp(self._read_ns)

    def _new_frame(self, size: int, have: int):
        # the frame is copied into a ring as soon as it is complete, so one buffer per
        # connection is reused: a fresh buffer would zero-fill every large frame first. It
        # grows (doubling) as bytes arrive, so its size follows what peers sent, never a size
        # they only claimed.
        if self._big is None:
            self._big = super()._new_frame(size, have)
        return self._big

    def _frame_ready(self, buf, begin, size) -> bool:
        if self._gate is not None:  # before SASL authentication: nothing is routed
            self._gated(buf[begin : begin + size])
            return True
        return self.server.route(self, memoryview(buf)[begin : begin + size])

    def _dispatch(self, frame) -> None:
        # large frames (received into their own bytearray) arrive here
        if self._gate is not None:
            return self._gated(frame)
        if not self.server.route(self, memoryview(frame)):
            self._stalled = frame
            self._pause_reading()

    def _take_large_frame(self, size: int, buf, begin: int, have: int) -> bool:
        """A large Produce whose rest is already in the kernel's receive buffer is received
        straight into a record reserved in the ring of its first partition's owner, and
        published from there: one copy of its bytes fewer than through ``_big``. Anything else
        (another API, a prefix in doubt, bytes still on their way, a full ring) goes the
        ordinary way. The reservation never outlives this call: it holds the ring's tail."""
        if self._gate is not None:
            return False
        server = self.server
        with memoryview(buf) as mv, mv[begin : begin + have] as head:
            first = produce_first_partition(head)
        if first is None or not _PRODUCE_VERSIONS[0] <= first[0] <= _PRODUCE_VERSIONS[1]:
            return False
        if readable_bytes(self.sock) < size - have:
            return False
        version, topic, index = first
        h = owner(topic, index, server.topo.handlers)
        ring = server.req_rings[h]
        session = server.session_of(self)
        head_size = env.REQUEST.size + len(session)
        if head_size + size > ring.max_record:
            return False  # the ordinary path closes the connection and says why
        slot = ring.reserve(head_size + size)
        if slot is None:
            return False  # full: the ordinary path waits for room (reserve marked us waiting)
        try:
            slot[env.REQUEST.size : head_size] = session
            frame = slot[head_size:]
            with memoryview(buf) as mv:
                frame[:have] = mv[begin : begin + have]
            filled = have
            while filled < size:
                n = self.sock.recv_into(frame[filled:])
                if n == 0:
                    ring.abandon()
                    self.close()
                    return True
                filled += n
                scheduling.received += n
        except (BlockingIOError, InterruptedError):
            # fewer bytes than FIONREAD promised: never publish part of a frame; keep what
            # arrived (abandon leaves the bytes where they are, and nothing writes this ring
            # before we return) and let the ordinary path wait for the rest
            ring.abandon()
            server.slot_fallbacks += 1
            self._hold_large_frame(size, frame[(self._frame_filled if self._frame is not None else 0) : filled])
            return True
        except OSError as exc:
            ring.abandon()
            self.close(f"read failed: {exc}")
            return True
        except BaseException:
            ring.abandon()
            raise
        self._frame = None
        self._set_rcvlowat(1)
        try:
            published = server.route_slot(self, h, ring, slot, version, session)
        except BaseException:
            ring.abandon()  # route_slot raises only before it publishes
            raise
        if not published:
            # in doubt, or another owner's ring is full: the ordinary path, from a copy (made
            # after abandon, which leaves the bytes where they are)
            ring.abandon()
            server.slot_fallbacks += 1
            big = self._new_frame(size, size)
            if len(big) < size:
                big.extend(bytes(size - len(big)))
            big[:size] = frame
            self._dispatch(big if len(big) == size else memoryview(big)[:size])
        elif self._backlogged():
            self._pause_reading()
        return True

    def _holds_request(self) -> bool:
        return self._stalled is not None

    def trim(self, now: float) -> bool:
        idle = super().trim(now)
        if idle and self._stalled is None:
            self._big = None
        return idle

    def dispatch_here(self, frame, identified=None) -> None:
        Connection._serve(self, frame, identified)

    def _resume_reading(self) -> None:
        if self._stalled is None:  # nothing may overtake a stalled frame
            super()._resume_reading()

    def retry(self) -> None:
        """The ring this connection waited for has space again (or may have)."""
        if self.closed:
            return
        if self._stalled is not None:
            if not self.server.route(self, memoryview(self._stalled)):
                return
            self._stalled = None
        if not self._reading and not self._backlogged():
            self._resume_reading()
            if self._end - self._start >= 4:
                self._parse_frames()


class TlsProcessorConnection(TlsConnection, ProcessorConnection):
    """A processor's connection on an SSL or SASL_SSL listener: TLS ends here."""
