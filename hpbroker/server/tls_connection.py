"""TLS on a connection: the handshake, then the same framing and request path over decrypted
bytes (server/connection.py), with the ssl module's non-blocking SSLSocket.

Theory of operation
-------------------
``TlsConnection`` is a mixin placed before ``Connection`` (in-process) or
``ProcessorConnection`` (a processor: TLS ends in the processors). The accepted socket is wrapped
server-side without a handshake; ``start`` drives ``do_handshake`` from the event loop (readable
or writable, as OpenSSL asks) until it completes, fails, or ``socket.connection.setup.timeout.ms``
passes (a client that opens TLS and stalls). A failure (garbage instead of a ClientHello, an
expired, untrusted or missing client certificate) is logged with the client's address and the
reason, and closes only that connection. Once the handshake is done, the principal of a verified
client certificate (``ssl.principal.mapping.rules``) becomes the session's, and reading starts.

Reading: ``_recv_into`` decrypts as many TLS records as the kernel holds, up to the size asked
(one SSL_read returns at most one 16 KiB record): a large Produce costs one wake-up per batch of
records, not one per record. Decrypted bytes OpenSSL still holds are not seen by epoll, so a
read that stops with some left (``pending``) schedules the next one itself.

Writing: sendfile cannot encrypt. ``_flush`` gathers queued answer chunks into one write, and
reads a Fetch answer's file region into a buffer of this connection (at most TLS_FILE_CHUNK at a
time: record bytes pass through one Python object, once) and hands it to OpenSSL whole;
SSL_write then encrypts and sends it record by record. A write the socket cannot take yet is
retried with the same bytes when the socket is writable (OpenSSL requires it), so the buffer
stays untouched until it has gone.

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


class TlsConnection:
    """Mixin: ``class X(TlsConnection, Connection)``. The server gives ``tls`` (the listener's
    ssl.SSLContext and its principal mapping rules) before ``start``."""

    def _init_tls(self, context: ssl.SSLContext, rules) -> None:
        self.sock = context.wrap_socket(self.sock, server_side=True, do_handshake_on_connect=False)
        self._recv_into = self._tls_recv_into
        self._rules = rules
        self._handshaking = True
        self._chunk: bytearray | None = None  # file region bytes on their way to OpenSSL
        self._unsent = None  # (bytes handed to SSL_write, what to consume from _out when done)

    # handshake -------------------------------------------------------------------------------
    def start(self) -> None:
        self.start_setup_deadline()
        self._handshake()

    def _handshake(self) -> None:
        if self.closed:
            return
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            return self._wait_handshake(reading=True)
        except ssl.SSLWantWriteError:
            return self._wait_handshake(reading=False)
        except (ssl.SSLError, ssl.CertificateError) as exc:
            return self.close(f"TLS handshake failed: {failure_reason(exc)}", auth_failure=True)
        except OSError as exc:
            return self.close(f"TLS handshake failed: {exc}")
        self._handshaking = False
        self._wait_handshake(reading=None)
        try:
            principal = certificate_principal(self.sock.getpeercert(), self._rules)
        except NoMatchingRule as exc:
            return self.close(f"TLS client certificate refused: {exc}", auth_failure=True)
        if principal is not None:
            self.session.principal = principal
        self.transport_ready()

    def _wait_handshake(self, reading: bool | None) -> None:
        """Watch the socket for the handshake's next step (None: stop watching)."""
        loop, fd = self.loop, self.fd
        if self._reading and reading is not True:
            loop.remove_reader(fd)
            self._reading = False
        if self._writing and reading is not False:
            loop.remove_writer(fd)
            self._writing = False
        if reading is True and not self._reading:
            loop.add_reader(fd, self._handshake)
            self._reading = True
        elif reading is False and not self._writing:
            loop.add_writer(fd, self._handshake)
            self._writing = True

    # reading ---------------------------------------------------------------------------------
    def _tls_recv_into(self, view) -> int:
        """Decrypt into ``view`` what has arrived, up to its size: 0 at the end of the stream;
        SSLWantReadError if nothing could be read."""
        sock = self.sock
        size = len(view)
        n = sock.recv_into(view)
        total = n
        if n == 0:
            return 0
        while total < size:
            try:
                n = sock.recv_into(view[total:])
            except WOULD_BLOCK:
                break
            if n == 0:
                break
            total += n
        return total

    def _on_readable(self) -> None:
        super()._on_readable()
        if not self.closed and self._reading and self.sock.pending():
            self.loop.call_soon(self._on_readable)  # decrypted bytes epoll cannot see

    def _resume_reading(self) -> None:
        was = self._reading
        super()._resume_reading()
        if not was and self._reading and not self.closed and self.sock.pending():
            self.loop.call_soon(self._on_readable)

    def _set_rcvlowat(self, remaining: int) -> None:
        pass  # ciphertext is not plaintext: a low-water mark in plaintext bytes could never be met

    def _take_large_frame(self, size: int, buf, begin: int, have: int) -> bool:
        return False  # a processor's receive-into-a-ring-record reads the socket itself

    def trim(self, now: float) -> bool:
        idle = super().trim(now)
        if idle and self._unsent is None:
            self._chunk = None
        return idle

    # writing ---------------------------------------------------------------------------------
    def _flush(self) -> None:
        out = self._out
        sock = self.sock
        try:
            while out or self._unsent is not None:
                if self._unsent is None:
                    self._unsent = self._next_write(out)
                data, taken = self._unsent
                sent = sock.send(data)
                if sent < len(data):  # not expected without partial writes; keep the rest
                    self._unsent = (memoryview(data)[sent:], taken)
                    continue
                self._unsent = None
                self._consume(out, taken)
        except WOULD_BLOCK:
            pass
        except OSError as exc:
            return self.close(f"write failed: {exc}")
        if (out or self._unsent is not None) and not self._writing:
            self.loop.add_writer(self.fd, self._on_writable)
            self._writing = True
        elif not out and self._unsent is None and self._writing:
            self.loop.remove_writer(self.fd)
            self._writing = False
        if not out and self._unsent is None:
            self.all_sent()

    def _next_write(self, out):
        """The bytes of the next SSL_write and what they take from ``_out``: a file region's next
        chunk (read into this connection's buffer), or the answer chunks at the head joined."""
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
