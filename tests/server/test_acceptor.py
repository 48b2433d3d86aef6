"""The Acceptor's socket options on every accepted connection."""

import asyncio
import socket

from hpbroker.server.connection import Acceptor
from hpbroker.testing import wait_until_async


def test_accepted_sockets_are_nonblocking_nodelay_keepalive():
    loop = asyncio.new_event_loop()
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    lsock.setblocking(False)
    got = []
    acceptor = Acceptor(loop, lsock, lambda sock, peer: got.append((sock, peer)))
    acceptor.start()
    client = socket.create_connection(lsock.getsockname())
    try:
        loop.run_until_complete(wait_until_async(lambda: got, 5, "the accepted connection"))
        ((sock, peer),) = got
        assert peer == "%s:%d" % client.getsockname()
        assert sock.getblocking() is False
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        sock.close()
    finally:
        acceptor.stop()
        client.close()
        lsock.close()
        loop.close()
