"""One client connection: framing, the request path, responses in request order, sendfile.

Theory of operation
-------------------
The socket is non-blocking and registered with the event loop through ``add_reader`` /
``add_writer`` (no asyncio transports: we need ``os.sendfile`` on the socket and control over
buffers). Reading fills a 64 KiB buffer, grown once to 256 KiB for a connection that sends a
larger frame (a producer); every complete frame is copied once into its own ``bytearray``
(writable, so Produce batches are patched in place and appended from it); a frame larger than
the buffer gets its own ``bytearray`` and the rest of it is received straight into it; that
buffer grows (doubling) as bytes arrive, so memory follows what a peer sent rather than the size
it announced (a processor may instead receive the rest straight into a shared-memory ring
record, ``_take_large_frame``). A size below zero or above ``socket.request.max.bytes`` closes
the connection before anything is allocated.

Answers to a burst of pipelined requests are corked (``cork``/``uncork``) and leave in one
``sendmsg``.

Each request gets a sequence number. Handlers answer at once or later (long-poll Fetch); finished
responses wait in ``_done`` until every earlier one is out, because Kafka clients match
responses to requests by order on a connection. Response chunks are ``bytes`` or file regions;
bytes go out with ``sendmsg`` (gathering), regions with ``os.sendfile`` from the segment file.

Request metrics (hpbroker/metrics): each request carries a tuple of its api key, version, size
and monotonic times (received: the read that completed it; handler start; handler done; parked
wait done) to its answer; when the answer has left (the out queue drained) the recorder adds
them to the API's histograms, one call in C per request. A processor gives its forwarded
requests the handler's answer time instead of the handler's times (the handler counts those).

Back-pressure: with too many requests in flight or too many bytes queued, the connection stops
reading until the backlog drains, so one client cannot make the broker buffer without bound.

Who may touch: the event loop thread of the process that accepted the socket.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import socket
import ssl
import struct
import sys
import termios
from collections import deque
from time import monotonic_ns

from hpbroker import request_path
from hpbroker.broker.request import NO_SESSION, Session
from hpbroker.protocol import ExternalBytes
from hpbroker.request_path import Refused
from hpbroker.server import scheduling
from hpbroker.server.connection_quotas import ROOM_RETRY_S, RejectLog, address_key

log = logging.getLogger(__name__)

READ_BUFFER = 64 * 1024
# A connection that sends a frame too large for READ_BUFFER gets this much once (a producer):
# then a frame of up to ~256 KiB (librdkafka's Produce requests at common batch sizes) usually
# arrives whole in one recv, often with the next one, instead of costing two wake-ups, two recvs
# and two SO_RCVLOWAT changes each.
# Connections that never send one (consumers, admin) keep 64 KiB.
LARGE_READ_BUFFER = 256 * 1024
# A large frame's buffer starts at this size and doubles as bytes arrive, so memory follows what
# a peer sent, not what it claimed (a 100 MB size prefix followed by silence costs 1 MiB).
FIRST_FRAME_ALLOCATION = 1 << 20
RCVLOWAT_MAX = 512 * 1024
# After a frame that took the large-frame path, the next read at a frame boundary takes at most
# this much: the first bytes of the next large frame are then copied into its own buffer (or a
# ring record) from a 16 KiB read, not from a whole read buffer (64 or 256 KiB). What is left
# stays in the kernel and is received straight where it belongs.
LARGE_FRAME_HEAD_READ = 16 * 1024
# A connection idle this long gives back what large frames made it grow (read buffer, spare
# frame buffer): a thousand producers that went quiet should not keep 256 KiB each.
IDLE_TRIM_S = 10.0
MAX_IN_FLIGHT = 128
MAX_QUEUED_BYTES = 32 * 1024 * 1024
_SIZE = struct.Struct(">i")
_API_KEY = struct.Struct(">h")
_PRE_AUTH_APIS = frozenset({17, 18, 36})  # SaslHandshake, ApiVersions, SaslAuthenticate
#: a non-blocking read or write that cannot go on now (over TLS: the record is not complete yet)
WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
_INT = struct.Struct("=i")
# sys.getrefcount of a large-frame buffer held only by the reading code: the local name in
# _on_readable and getrefcount's own argument.
_UNREFERENCED = 2


#: Out of descriptors (or kernel memory) for a new connection: stop watching the listening
#: socket this long, as asyncio's own servers do; watched on, its pending connection would
#: wake the loop at once, again and again, while nothing can be accepted.
ACCEPT_RETRY_S = 1.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Acceptor:
    """Accepts the connections of a non-blocking listening socket when the loop says it is
    readable (at most ``limit`` per wake-up, so a burst of connects cannot starve established
    clients), sets each up for a Connection (non-blocking, TCP_NODELAY: responses are whole
    frames, Nagle would only delay them; SO_KEEPALIVE, as Kafka's acceptor sets it, so the kernel
    finds peers that vanished without a FIN) and hands it to ``on_connection(sock, peer)``.

    ``quotas`` (server/connection_quotas.py) applies Kafka's connection limits: at
    max.connections it stops accepting until ``connection_closed`` frees a slot (or, for a slot
    another processor frees, until its next look ROOM_RETRY_S later); a connection from an
    address at its limit is closed at once. The owner calls ``connection_closed(peer)`` for every
    connection it was handed, once, when it closes."""

    def __init__(self, loop, lsock: socket.socket, on_connection, limit: int = 64, send_buffer: int = -1, quotas=None):
        self.loop, self.lsock, self.on_connection, self.limit = loop, lsock, on_connection, limit
        self.send_buffer = send_buffer  # socket.send.buffer.bytes; -1: the kernel's autotuning
        self.quotas = quotas
        self._retry = None
        self._waiting_for_room = False
        self.paused = 0  # how many times accepting was paused for lack of resources
        self.full = 0  # ... because the broker held max.connections
        self.rejects = RejectLog()

    def start(self) -> None:
        self.loop.add_reader(self.lsock.fileno(), self._accept)

    def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._waiting_for_room = False
        self.loop.remove_reader(self.lsock.fileno())

    def _resume(self) -> None:
        self._retry = None
        self._waiting_for_room = False
        self.start()

    def _pause(self, for_s: float) -> None:
        self.loop.remove_reader(self.lsock.fileno())
        self._retry = self.loop.call_later(for_s, self._resume)

    def connection_closed(self, peer: str) -> None:
        """``peer`` ("host:port", as handed to ``on_connection``) has closed."""
        if self.quotas is None:
            return
        self.quotas.release(peer.rpartition(":")[0])
        if self._waiting_for_room:  # a slot is free: take the next connection now
            self._retry.cancel()
            self._resume()

    def _accept(self) -> None:
        quotas = self.quotas
        for _ in range(self.limit):
            if quotas is not None and not quotas.room():
                self.full += 1
                self._waiting_for_room = True
                self._pause(ROOM_RETRY_S)
                return
            try:
                sock, addr = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    log.warning("accept failed: %s; not accepting for %.0f s", exc, ACCEPT_RETRY_S)
                    self.paused += 1
                    self._pause(ACCEPT_RETRY_S)
                else:  # that one connection failed (e.g. reset before we got to it)
                    log.warning("accept failed: %s", exc)
                return
            if quotas is not None and not quotas.admit(addr[0]):
                self.rejects.note(addr[0], quotas.limits.limit_for(address_key(addr[0])))
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self.send_buffer > 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
            self.on_connection(sock, f"{addr[0]}:{addr[1]}")


def listening_socket(host: str, port: int, config, reuse_port: bool = False) -> socket.socket:
    """The broker's non-blocking listening socket on ``host:port``. ``socket.receive.buffer.bytes``
    is set here, before listen(), as Kafka's acceptor does: accepted sockets inherit it, and the
    TCP window scale a connection offers is fixed by its buffer at the handshake.
    ``socket.send.buffer.bytes`` is set on each accepted socket (Acceptor's ``send_buffer``)."""
    lsock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        receive_buffer = config.get("socket.receive.buffer.bytes")
        if receive_buffer > 0:
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        lsock.bind((host, port))
        lsock.listen(1024)
        lsock.setblocking(False)
    except BaseException:
        lsock.close()
        raise
    return lsock


def max_idle_s(config) -> float | None:
    """``connections.max.idle.ms`` in seconds; None when negative (never expire)."""
    ms = config.get("connections.max.idle.ms")
    return None if ms < 0 else ms / 1000.0


def readable_bytes(sock: socket.socket) -> int:
    """How many bytes a recv on ``sock`` would return now (FIONREAD); 0 if it cannot tell."""
    try:
        return _INT.unpack(fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return 0


class Connection:
    def __init__(self, server, sock: socket.socket, peer: str, session: Session = NO_SESSION):
        self.server = server
        self.session = session  # who is at the other end (principal, address, listener)
        self.broker = server.broker
        self.loop = server.loop
        self.sock = sock
        self.fd = sock.fileno()
        self._recv_into = sock.recv_into  # a TLS connection decrypts here instead
        self.peer = peer
        self.max_request = server.max_request_bytes
        self._buf = bytearray(READ_BUFFER)
        self._view = memoryview(self._buf)
        self._start = 0  # first unparsed byte in _buf
        self._end = 0  # end of received bytes in _buf
        self._frame: bytearray | None = None  # a large frame being received directly
        self._frame_filled = 0
        self._large_next = False  # the last frame was large: read the next head small
        self._frame_size = 0
        self._rcvlowat = 1
        self._next_seq = 0
        self._write_seq = 0
        self._done: dict[int, tuple] = {}  # seq -> (chunks, request metrics tuple or None)
        self._sending: list[tuple] = []  # (metrics tuple, response bytes, released ns) not yet sent
        self._rec = server.stats.recorder
        self._read_ns = 0  # monotonic ns of the read that completed the frames being parsed
        self._tasks: set[asyncio.Task] = set()
        self._out: deque = deque()  # bytes-like chunks and [fd, position, remaining, keepalive] lists
        self._out_bytes = 0
        self._reading = False
        self._writing = False
        self._corked = 0  # >0: answers are queued, and go out in one send when uncorked
        self._spare: bytearray | None = None  # a large-frame buffer nobody references any more
        self._last_read = self.loop.time()
        self._last_active = self._last_read  # last read or answer sent: idle expiry counts from it
        self.closed = False
        # Before SASL authentication: the session's SASL server, which lets only ApiVersions and
        # the SASL requests through (``_gated``); None once authenticated, or on a listener
        # without SASL. Frames are then limited to sasl.server.max.receive.size.
        self._gate = session.sasl if session.sasl is not None and not session.sasl.complete else None
        if self._gate is not None:
            self.max_request = min(self.max_request, self._gate.max_receive_size)
        self._setup_deadline: asyncio.TimerHandle | None = None
        self._close_when_sent: str | None = None  # close, saying this, once every answer has gone

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._gate is not None:
            self.start_setup_deadline()
        self._resume_reading()

    def close(self, reason: str | None = None, auth_failure: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        if reason:
            log.warning(
                "closing connection from %s (listener %s, %s): %s",
                self.peer,
                self.session.listener,
                self.session.principal,
                reason,
            )
        if auth_failure:
            self.server.failed_authentications += 1
            self.server.stats.authentication_failed(self.session.listener)
        if self._setup_deadline is not None:
            self._setup_deadline.cancel()
            self._setup_deadline = None
        self._pause_reading()
        if self._writing:
            self.loop.remove_writer(self.fd)
            self._writing = False
        for t in list(self._tasks):
            t.cancel()
        self._out.clear()
        self._done.clear()
        self._sending.clear()
        try:
            self.sock.close()
        except OSError:
            pass
        self.server.forget(self)

    def _pause_reading(self) -> None:
        if self._reading:
            self.loop.remove_reader(self.fd)
            self._reading = False

    def _resume_reading(self) -> None:
        if not self._reading and not self.closed:
            self.loop.add_reader(self.fd, self._on_readable)
            self._reading = True

    def _set_rcvlowat(self, remaining: int) -> None:
        """Wake up only when a useful part of a large frame has arrived.

        Without it the loop wakes for every ~64 KiB the kernel receives, and each wake-up costs
        more Python than the bytes it brings; with it, one wake-up per RCVLOWAT_MAX bytes (or
        per frame remainder). A peer's FIN still wakes us whatever the mark."""
        want = 1 if remaining <= 1 else min(remaining, RCVLOWAT_MAX)
        if want != self._rcvlowat:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, want)
                self._rcvlowat = want
            except OSError:
                pass

    def _backlogged(self) -> bool:
        return (self._next_seq - self._write_seq) >= MAX_IN_FLIGHT or self._out_bytes >= MAX_QUEUED_BYTES

    # reading ---------------------------------------------------------------------------------
    def trim(self, now: float) -> bool:
        """After IDLE_TRIM_S without a read, drop back to a READ_BUFFER read buffer and forget the
        spare large-frame buffer (the server's periodic sweep calls this). True if it was idle.

        A connection with nothing in flight, nothing to send and no read or answer for
        ``connections.max.idle.ms`` (the server's ``max_idle_s``; Kafka's default 10 minutes,
        negative = never) is closed, as Kafka's Selector expires idle connections: clients
        reconnect when they need to, and peers that vanished without a FIN stop holding a
        descriptor."""
        if self._frame is not None:
            return False
        limit = self.server.max_idle_s
        if (
            limit is not None
            and now - self._last_active >= limit
            and self._next_seq == self._write_seq
            and not self._out
            and not self._holds_request()
        ):
            log.info("closing connection from %s: idle for more than %g s (connections.max.idle.ms)", self.peer, limit)
            self.close()
            return True
        if now - self._last_read < IDLE_TRIM_S:
            return False
        self._spare = None
        if len(self._buf) > READ_BUFFER and self._start == self._end:
            self._buf = bytearray(READ_BUFFER)
            self._view = memoryview(self._buf)
            self._start = self._end = 0
        return True

    def _holds_request(self) -> bool:
        """A request received but not yet taken (a processor waiting for ring space)."""
        return False

    def _on_readable(self) -> None:
        self._last_read = self._last_active = self.loop.time()
        self._read_ns = monotonic_ns()
        try:
            if self._frame is not None:
                if self._take_large_frame(self._frame_size, self._frame, 0, self._frame_filled):
                    return
                frame, size = self._frame, self._frame_size
                if self._frame_filled == len(frame):
                    # grow with what actually arrived, never to the claimed size up front
                    frame.extend(bytes(min(size, 2 * len(frame)) - len(frame)))
                with memoryview(frame) as mv:
                    n = self._recv_into(mv[self._frame_filled : size])
                if n == 0:
                    return self.close()
                self._frame_filled += n
                scheduling.received += n
                if self._frame_filled == size:
                    self._frame = None
                    self._set_rcvlowat(1)
                    self.cork()
                    try:
                        # a view, not a released one: a processor keeps it when the ring is full
                        self._dispatch(frame if len(frame) == size else memoryview(frame)[:size])
                    finally:
                        self.uncork()
                    if sys.getrefcount(frame) <= _UNREFERENCED:
                        # Answered and forgotten (no parked request or task holds a view of
                        # it): the next large frame reuses it instead of a fresh zero-filled
                        # allocation (one memset and often fresh pages per frame otherwise).
                        self._spare = frame
                else:
                    self._set_rcvlowat(self._frame_size - self._frame_filled)
                return
            if self._start == self._end:
                self._start = self._end = 0
            elif len(self._buf) - self._end < 4096:
                # compact: move the unparsed tail to the front
                tail = self._end - self._start
                self._buf[:tail] = self._buf[self._start : self._end]
                self._start, self._end = 0, tail
            if self._large_next and self._start == self._end:
                n = self._recv_into(self._view[self._end : self._end + LARGE_FRAME_HEAD_READ])
            else:
                n = self._recv_into(self._view[self._end :])
        except WOULD_BLOCK:
            return
        except OSError as exc:
            return self.close(f"read failed: {exc}")
        if n == 0:
            return self.close()
        self._end += n
        scheduling.received += n
        self._parse_frames()

    def cork(self) -> None:
        """Hold answers back until ``uncork``: the answers to a burst of pipelined requests (or
        to several ring records drained at once) then leave in one ``sendmsg``, not one each."""
        self._corked += 1

    def uncork(self) -> None:
        self._corked -= 1
        if not self._corked and not self.closed and self._write_seq in self._done:
            self._release()

    def _parse_frames(self) -> None:
        self.cork()
        try:
            self._parse_burst()
        finally:
            self.uncork()

    def _parse_burst(self) -> None:
        buf = self._buf
        while not self.closed and self._end - self._start >= 4:
            (size,) = _SIZE.unpack_from(buf, self._start)
            if size < 0 or size > self.max_request:
                return self.close(f"invalid request size {size} (socket.request.max.bytes {self.max_request})")
            have = self._end - self._start - 4
            if have >= size:
                self._large_next = False
                begin = self._start + 4
                self._start = begin + size
                if not self._frame_ready(buf, begin, size):
                    self._start = begin - 4  # not taken (a full ring): parse it again on resume
                    self._pause_reading()
                    break
            else:
                if size + 4 <= len(buf) - self._start:
                    pass  # fits behind what is buffered: read on
                elif size + 4 <= len(buf):
                    self._make_room(len(buf))  # fits once moved to the front
                elif size + 4 <= LARGE_READ_BUFFER:
                    self._make_room(LARGE_READ_BUFFER)  # a producer: grow the read buffer, once
                else:
                    # larger than our buffer: receive the rest straight into the frame
                    self._large_next = True
                    if not self._take_large_frame(size, buf, self._start + 4, have):
                        with self._view[self._start + 4 : self._end] as head:  # no temporary copy
                            self._hold_large_frame(size, head)
                    self._start = self._end = 0
                break
            if self._backlogged():
                self._pause_reading()
                break

    def _make_room(self, capacity: int) -> None:
        """Move the unparsed bytes to the front of a read buffer of ``capacity`` bytes (the same
        one if it is that large already), so the frame they begin can arrive behind them."""
        tail = self._end - self._start
        if len(self._buf) < capacity:
            buf = bytearray(capacity)
            buf[:tail] = self._view[self._start : self._end]
            self._buf, self._view = buf, memoryview(buf)
        elif self._start:
            # a bytearray slice (a copy), not a view: the regions may overlap
            self._buf[:tail] = self._buf[self._start : self._end]
        self._start, self._end = 0, tail

    def _hold_large_frame(self, size: int, data) -> None:
        """Receive the rest of a frame of ``size`` bytes into a buffer of its own. ``data`` are
        received bytes of it that are not in that buffer yet: its first bytes (from the read
        buffer), or what a processor had received into a ring record it then gave up."""
        n = len(data)
        if self._frame is None:
            self._frame = self._new_frame(size, n)
            self._frame_filled = 0
            self._frame_size = size
        frame, at = self._frame, self._frame_filled
        if len(frame) < at + n:
            frame.extend(bytes(min(size, max(at + n, 2 * len(frame))) - len(frame)))
        frame[at : at + n] = data
        self._frame_filled = at + n
        self._set_rcvlowat(size - self._frame_filled)

    def _take_large_frame(self, size: int, buf, begin: int, have: int) -> bool:
        """A frame of ``size`` bytes, larger than the read buffer, is pending: its first
        ``have`` bytes are ``buf[begin:begin + have]`` (the read buffer, or the frame's own
        buffer). True if this hook took it over (the ordinary path must not touch it any more);
        False to receive it as usual. Here always False; a processor of the multi-process mode
        overrides it to receive the rest straight into a shared-memory ring record."""
        return False

    def _new_frame(self, size: int, have: int) -> bytearray:
        """Memory for a frame larger than the read buffer, ``have`` bytes of it already here;
        here it becomes the request itself. It starts small and grows as bytes arrive."""
        spare, self._spare = self._spare, None
        if spare is not None and len(spare) >= have:
            return spare
        return bytearray(min(size, max(FIRST_FRAME_ALLOCATION, have)))

    # dispatch --------------------------------------------------------------------------------
    def _frame_ready(self, buf: bytearray, begin: int, size: int) -> bool:
        """A complete frame at ``buf[begin:begin + size]``; False if it cannot be taken now.
        Here it is always taken; a processor of the multi-process mode overrides this to copy
        it straight into a shared-memory ring instead."""
        self._dispatch(buf[begin : begin + size])  # the one copy: socket buffer -> request
        return True

    def _dispatch(self, frame: bytearray, identified=None) -> None:
        """Serve one request through the request path (hpbroker/request_path.py);
        ``identified``: what ``request_path.identify`` said of it, if asked already."""
        if self._gate is not None:
            self._gated(frame)
            return
        self._serve(frame, identified)

    def _serve(self, frame: bytearray, identified=None) -> None:
        seq = self._next_seq
        start = monotonic_ns()
        try:
            ctx, answer = request_path.serve(
                self.broker, frame, self.peer, request_path.encode_parts, None, identified, self.session
            )
        except Refused as refused:
            return self.refuse(refused)
        self._next_seq += 1
        local = monotonic_ns()
        if type(answer) is list:  # answered at once, encoded
            self._complete(seq, answer, (ctx.api_key, ctx.api_version, len(frame), self._read_ns, start, local, local))
        else:  # parked: a long-poll Fetch, a JoinGroup, a controller call
            task = self.loop.create_task(answer)
            self._tasks.add(task)
            timing = (ctx.api_key, ctx.api_version, len(frame), self._read_ns, start, local)
            task.add_done_callback(lambda t, s=seq, c=ctx, m=timing: self._finish_task(t, s, c, m))

    def refuse(self, refused: Refused) -> None:
        """A request the request path refused: close, or send the answer it gave instead."""
        if refused.answer is None:
            return self.close(refused.reason)
        seq = self._next_seq
        self._next_seq += 1
        self._complete(seq, [refused.answer])  # not counted: no API served it

    def _finish_task(self, task: asyncio.Task, seq: int, ctx, timing: tuple) -> None:
        self._tasks.discard(task)
        if self.closed or task.cancelled():
            return
        remote = monotonic_ns()
        try:
            parts = request_path.encode_parts(ctx, request_path.result_of(ctx, task))
        except Refused as refused:
            return self.close(refused.reason)
        self._complete(seq, parts, timing + (remote,))

    def _complete(self, seq: int, parts: list, metrics: tuple | None = None) -> None:
        """The answer to request ``seq``; ``metrics``: its request metrics tuple (api key,
        version, request bytes, received, handler start, handler done, parked wait done; start
        -1 and the last the handler's answer time for a request another process handled)."""
        if self.closed:
            return
        self._done[seq] = (parts, metrics)
        if not self._corked:
            self._release()

    def _release(self) -> None:
        """Queue every answer whose turn has come, send, and read again if we had paused."""
        self._last_active = self.loop.time()
        released = monotonic_ns()
        while self._write_seq in self._done:
            parts, metrics = self._done.pop(self._write_seq)
            before = self._out_bytes
            for chunk in parts:
                if isinstance(chunk, ExternalBytes):
                    for r in chunk.source:
                        self._out.append([r.fd, r.position, r.length, r])
                        self._out_bytes += r.length
                else:
                    self._out.append(chunk)
                    self._out_bytes += len(chunk)
            if metrics is not None:
                self._sending.append((metrics, self._out_bytes - before, released))
            self._write_seq += 1
        self._flush()
        if not self.closed and not self._reading and not self._backlogged():
            self._resume_reading()
            if self._end - self._start >= 4:
                self._parse_frames()

    # connection set-up: TLS handshake, SASL authentication -----------------------------------
    def start_setup_deadline(self) -> None:
        """A TLS or SASL connection must be ready within socket.connection.setup.timeout.ms."""
        self._setup_deadline = self.loop.call_later(self.server.setup_timeout_s, self._setup_expired)

    def _setup_expired(self) -> None:
        self._setup_deadline = None
        what = "TLS handshake" if getattr(self, "_handshaking", False) else "SASL authentication"
        self.close(f"no {what} within {self.server.setup_timeout_s:g} s (socket.connection.setup.timeout.ms)")

    def transport_ready(self) -> None:
        """The TLS handshake is done: authentication (if the listener has SASL) and requests follow."""
        if self._gate is None and self._setup_deadline is not None:
            self._setup_deadline.cancel()
            self._setup_deadline = None
        self._resume_reading()

    def authenticated(self) -> None:
        """SASL authentication succeeded (``session.principal`` is set): requests flow."""
        self.server.stats.authentication_succeeded(self.session.listener)
        self._gate = None
        self.max_request = self.server.max_request_bytes
        if self._setup_deadline is not None:
            self._setup_deadline.cancel()
            self._setup_deadline = None

    def authentication_failed(self, reason: str) -> None:
        """SASL authentication failed: read nothing more, close once the answer saying so has
        been sent."""
        self.server.failed_authentications += 1
        self.server.stats.authentication_failed(self.session.listener)
        self._close_when_sent = reason
        self._pause_reading()

    def reauthentication_due(self) -> None:
        """connections.max.reauth.ms passed: only the SASL requests may come now."""
        self._gate = self.session.sasl

    def all_sent(self) -> None:
        if self._close_when_sent is not None and self._write_seq == self._next_seq and not self._out:
            reason, self._close_when_sent = self._close_when_sent, None
            self.close(reason)

    def _gated(self, frame) -> None:
        """A request before SASL authentication: ApiVersions and the SASL requests are served
        (here, whatever their route), a SASL token after a SaslHandshake v0 goes to the SASL
        server, anything else closes the connection, as Kafka's SaslServerAuthenticator does."""
        gate = self._gate
        if self._close_when_sent is not None:
            return
        if gate.raw_tokens:
            try:
                token = gate.evaluate(bytes(frame))
            except Exception as exc:  # sasl_server.AuthenticationFailed, a broken token
                return self.close(f"SASL authentication failed: {exc}", auth_failure=True)
            seq = self._next_seq
            self._next_seq += 1
            self._complete(seq, [_SIZE.pack(len(token)), token])
            if gate.complete:
                self.authenticated()
            return
        if len(frame) < 4:
            return self.close("request header too short")
        (api_key,) = _API_KEY.unpack_from(frame, 0)
        if api_key not in _PRE_AUTH_APIS:
            if gate.state == "EXPIRED":
                return self.close(f"api key {api_key} after the SASL session expired (connections.max.reauth.ms)")
            return self.close(
                f"api key {api_key} before SASL authentication (only ApiVersions and SASL may come first)"
            )
        self._serve(frame if type(frame) is bytearray else bytearray(frame))

    # writing ---------------------------------------------------------------------------------
    def _flush(self) -> None:
        out = self._out
        try:
            while out:
                head = out[0]
                if isinstance(head, list):  # file region: [fd, position, remaining, keepalive]
                    sent = os.sendfile(self.fd, head[0], head[1], head[2])
                    if sent == 0:
                        raise OSError(errno.EIO, "segment file shorter than its region")
                    self._out_bytes -= sent
                    if sent < head[2]:
                        head[1] += sent
                        head[2] -= sent
                        break
                    out.popleft()
                    continue
                # gather the run of bytes chunks at the head into one sendmsg
                bufs = []
                wanted = 0
                for c in out:
                    if isinstance(c, list) or len(bufs) >= 64:
                        break
                    bufs.append(c)
                    wanted += len(c)
                # A Fetch answer's header followed by its file region: MSG_MORE holds the header
                # back until sendfile's pages join it, one segment instead of a 100-byte packet
                # ahead of them (with TCP_NODELAY each write goes out at once otherwise): one
                # packet and one wake-up of the consumer fewer per Fetch answer.
                more = len(out) > len(bufs) and isinstance(out[len(bufs)], list)
                sent = self.sock.sendmsg(bufs, (), socket.MSG_MORE if more else 0)
                self._out_bytes -= sent
                left = sent
                while left:
                    c = out[0]
                    if left >= len(c):
                        left -= len(c)
                        out.popleft()
                    else:
                        out[0] = memoryview(c)[left:]
                        left = 0
                if sent < wanted:
                    break  # kernel send buffer full
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            return self.close(f"write failed: {exc}")
        if out and not self._writing:
            self.loop.add_writer(self.fd, self._on_writable)
            self._writing = True
        elif not out and self._writing:
            self.loop.remove_writer(self.fd)
            self._writing = False
        if not out and self._sending:
            # everything queued has left: the answers' request metrics are complete
            sent = monotonic_ns()
            request = self._rec.request
            for metrics, size, released in self._sending:
                request(metrics, size, released, sent)
            self._sending.clear()
        if not out and self._close_when_sent is not None:
            self.all_sent()

    def _on_writable(self) -> None:
        self._flush()
        if not self.closed and not self._reading and not self._backlogged():
            self._resume_reading()
            if self._end - self._start >= 4:
                self._parse_frames()
