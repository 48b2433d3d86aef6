"""TLS on a connection: the handshake, then the same framing and request path over decrypted
bytes (server/connection.py), with the ssl module's SSLObject over memory BIOs.

Theory of operation
-------------------
``TlsConnection`` is a mixin placed before ``Connection`` (in-process) or
``ProcessorConnection`` (a processor: TLS ends in the processors). The socket stays a plain
non-blocking socket; OpenSSL reads ciphertext from an incoming memory BIO and writes ciphertext
to an outgoing one, and this class moves bytes between the BIOs and the socket. Why not an
SSLSocket: OpenSSL's socket BIO reads each TLS record with two recv calls (its 5-byte header,
then its body; Python cannot turn on read-ahead) and writes each 16 KiB record with its own
send: for a 1 MB Produce that is 128 receive calls instead of a few, the largest part of TLS's
cost here (measured: perf/security_perf.py, docs/performance.md).

Handshake: ``start`` drives ``do_handshake`` from the event loop until it completes, fails, or
``socket.connection.setup.timeout.ms`` passes (a client that opens TLS and stalls). A failure
(garbage instead of a ClientHello, an expired, untrusted or missing client certificate) is
logged with the client's address and the reason, and closes only that connection. Then the
principal of a verified client certificate (``ssl.principal.mapping.rules``) becomes the
session's, and reading starts.

Reading: ``_recv_into`` decrypts into the connection's buffer, refilling the incoming BIO from
the socket (up to RAW_READ bytes a call) whenever OpenSSL needs more. Bytes already in the BIOs
are invisible to epoll: a read that stopped because the buffer was full schedules the next one
itself.

Writing: sendfile cannot encrypt. ``_flush`` gathers queued answer chunks into one write, and
reads a Fetch answer's file region into a buffer of this connection (at most TLS_FILE_CHUNK at a
time: record bytes pass through one Python object, once) and hands it to OpenSSL whole; the
ciphertext it produces leaves in one send. No more plaintext is encrypted while ciphertext waits
for the socket, so memory stays bounded by one chunk.

Who may touch: the event loop thread of the process that accepted the socket.
"""

from __future__ import annotations

import errno
import logging
import os
import ssl

from hpbroker.security.principal_mapping import NoMatchingRule
from hpbroker.security.tls import certificate_principal, failure_reason
from hpbroker.server.connection import WOULD_BLOCK

log = logging.getLogger("hpbroker.server.tls")

TLS_FILE_CHUNK = 256 * 1024  # the most of a file region read into memory at once
TLS_GATHER = 64 * 1024  # answer chunks joined into one write up to this size
RAW_READ = 256 * 1024  # ciphertext taken from the socket per recv


class TlsConnection:
    """Mixin: ``class X(TlsConnection, Connection)``; ``_init_tls`` before ``start``."""

    def _init_tls(self, context: ssl.SSLContext, rules) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        # one call per TLS record: the C method itself, not SSLObject.read's Python frame around it
        self._tls_read = getattr(self._tls, "_sslobj", self._tls).read
        self._recv_into = self._tls_recv_into
        self._rules = rules
        self._handshaking = True
        self._raw_in = bytearray(RAW_READ)
        self._raw_view = memoryview(self._raw_in)
        self._raw_out = None  # ciphertext the socket has not taken yet
        self._chunk: bytearray | None = None  # file region bytes on their way to OpenSSL
        self._more = False  # the last read filled its buffer: bytes may wait in the BIOs

    # handshake -------------------------------------------------------------------------------
    def start(self) -> None:
        self.start_setup_deadline()
        self._handshake()

    def _handshake(self) -> None:
        if self.closed:
            return
        try:
            self._send_raw()
            if self._raw_out is None:
                self._fill()
        except WOULD_BLOCK:
            pass
        except EOFError:
            return self.close("closed during the TLS handshake")
        except OSError as exc:
            return self.close(f"TLS handshake failed: {exc}")
        try:
            self._tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        except (ssl.SSLError, ssl.CertificateError) as exc:
            self._send_alert()
            return self.close(f"TLS handshake failed: {failure_reason(exc)}", auth_failure=True)
        try:
            self._take_ciphertext()
            self._send_raw()
        except OSError as exc:
            return self.close(f"TLS handshake failed: {exc}")
        if not done:
            return self._watch_handshake()
        self._handshaking = False
        self._watch_handshake(stop=True)
        try:
            principal = certificate_principal(self._tls.getpeercert(), self._rules)
        except NoMatchingRule as exc:
            return self.close(f"TLS client certificate refused: {exc}", auth_failure=True)
        if principal is not None:
            self.session.principal = principal
        self._more = self._incoming.pending > 0  # the client may have sent its first request already
        self.transport_ready()
        if self._raw_out is not None:
            self._flush()

    def _send_alert(self) -> None:
        """Tell the client why (the alert OpenSSL wrote), as far as the socket takes it now."""
        try:
            self._take_ciphertext()
            self._send_raw()
        except OSError:
            pass

    def _watch_handshake(self, stop: bool = False) -> None:
        loop, fd = self.loop, self.fd
        want_write = not stop and self._raw_out is not None
        want_read = not stop and not want_write
        if self._reading and not want_read:
            loop.remove_reader(fd)
            self._reading = False
        if self._writing and not want_write:
            loop.remove_writer(fd)
            self._writing = False
        if want_read and not self._reading:
            loop.add_reader(fd, self._handshake)
            self._reading = True
        if want_write and not self._writing:
            loop.add_writer(fd, self._handshake)
            self._writing = True

    # moving ciphertext -------------------------------------------------------------------------
    def _fill(self) -> int:
        """Ciphertext from the socket into the incoming BIO; EOFError at the end of the stream,
        BlockingIOError (a WOULD_BLOCK) when nothing has arrived."""
        n = self.sock.recv_into(self._raw_view)
        if n == 0:
            raise EOFError
        self._incoming.write(self._raw_view[:n])
        return n

    def _take_ciphertext(self) -> None:
        if self._outgoing.pending:
            data = self._outgoing.read()
            self._raw_out = data if self._raw_out is None else bytes(self._raw_out) + data

    def _send_raw(self) -> None:
        """Send waiting ciphertext; what the socket does not take stays in ``_raw_out``."""
        raw = self._raw_out
        if raw is None:
            return
        try:
            sent = self.sock.send(raw)
        except WOULD_BLOCK:
            return
        self._raw_out = None if sent == len(raw) else memoryview(raw)[sent:]

    # reading ---------------------------------------------------------------------------------
    def _tls_recv_into(self, view) -> int:
        """Decrypt into ``view`` what has arrived, up to its size: 0 at the end of the stream; a
        WOULD_BLOCK error when nothing could be read."""
        read = self._tls_read
        size = len(view)
        total = 0
        self._more = False
        while total < size:
            try:
                n = read(size - total, view[total:] if total else view)
            except ssl.SSLWantReadError:
                try:
                    self._fill()
                except EOFError:
                    return total
                except WOULD_BLOCK:
                    if total:
                        return total
                    raise
                continue
            except ssl.SSLZeroReturnError:  # close_notify: the client ended the session
                return total
            if n == 0:
                return total
            total += n
        self._more = True
        return total

    def _on_readable(self) -> None:
        super()._on_readable()
        if self._more and not self.closed and self._reading:
            self.loop.call_soon(self._on_readable)  # bytes epoll cannot see

    def _resume_reading(self) -> None:
        was = self._reading
        super()._resume_reading()
        if not was and self._reading and not self.closed and (self._more or self._tls.pending()):
            self.loop.call_soon(self._on_readable)

    def _set_rcvlowat(self, remaining: int) -> None:
        pass  # ciphertext is not plaintext: a low-water mark in plaintext bytes could never be met

    def _take_large_frame(self, size: int, buf, begin: int, have: int) -> bool:
        return False  # a processor's receive-into-a-ring-record reads the socket itself

    def trim(self, now: float) -> bool:
        idle = super().trim(now)
        if idle:
            self._chunk = None
        return idle

    # writing ---------------------------------------------------------------------------------
    def _flush(self) -> None:
        out = self._out
        try:
            while True:
                self._send_raw()
                if self._raw_out is not None or not out:
                    break
                data, taken = self._next_write(out)
                self._tls.write(data)  # into the memory BIO: always whole
                self._consume(out, taken)
                self._take_ciphertext()
        except ssl.SSLError as exc:
            return self.close(f"TLS write failed: {exc}")
        except OSError as exc:
            return self.close(f"write failed: {exc}")
        waiting = self._raw_out is not None
        if waiting and not self._writing:
            self.loop.add_writer(self.fd, self._on_writable)
            self._writing = True
        elif not waiting and self._writing:
            self.loop.remove_writer(self.fd)
            self._writing = False
        if not out and not waiting:
            if self._sending:
                self._answers_sent()
            self.all_sent()

    def _next_write(self, out):
        """The plaintext of the next SSL write and what it takes from ``_out``: a file region's
        next chunk (read into this connection's buffer), or the answer chunks at the head joined."""
        head = out[0]
        if isinstance(head, list):  # [fd, position, remaining, keepalive]
            n = min(head[2], TLS_FILE_CHUNK)
            if self._chunk is None or len(self._chunk) < n:
                self._chunk = bytearray(max(n, min(TLS_FILE_CHUNK, 64 * 1024)))
            view = memoryview(self._chunk)[:n]
            got = os.preadv(head[0], [view], head[1])
            if got == 0:
                raise OSError(errno.EIO, "segment file shorter than its region")
            return view[:got], ("region", got)
        chunks = 0
        total = 0
        for c in out:
            if isinstance(c, list) or (chunks and total + len(c) > TLS_GATHER):
                break
            chunks += 1
            total += len(c)
        data = head if chunks == 1 else b"".join(out[i] for i in range(chunks))
        return data, ("chunks", chunks)

    def _consume(self, out, taken) -> None:
        kind, n = taken
        if kind == "region":
            head = out[0]
            head[1] += n
            head[2] -= n
            self._out_bytes -= n
            if head[2] == 0:
                out.popleft()
            return
        for _ in range(n):
            self._out_bytes -= len(out.popleft())
