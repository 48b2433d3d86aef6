"""A ProcessorServer for unit tests: real routing and in-memory rings, no supervisor, no
sockets of its own, wake-ups recorded instead of written to eventfds; and the client side of
its tests: a connection over a socket pair, and large Produce frames."""

import mmap
import socket
import time

from hpbroker import protocol
from hpbroker.broker.request import NO_SESSION
from hpbroker.server.connection import LARGE_READ_BUFFER
from hpbroker.server.multiproc.processor import ProcessorServer
from hpbroker.server.multiproc.processor_connection import ProcessorConnection
from hpbroker.server.multiproc.ring import Ring, ring_bytes
from hpbroker.server.multiproc.routing import owner

HANDLERS = 2


class FakeTopology:
    handlers = HANDLERS

    def __init__(self):
        self.incarnations = [0] * HANDLERS  # a test moves one to play a handler restart

    def handler_incarnation(self, h):
        return self.incarnations[h]


class RecordedWakes:
    def __init__(self):
        self.woken = []

    def wake(self, h):
        self.woken.append(h)


class RegistrationsOnly:
    """An event loop that only takes registrations: the test calls ``_on_readable`` itself."""

    def add_reader(self, fd, cb):
        pass

    def remove_reader(self, fd):
        pass

    add_writer, remove_writer = add_reader, remove_reader

    def time(self):
        return time.monotonic()


def processor_server(capacity: int) -> ProcessorServer:
    config = {
        "socket.request.max.bytes": 100 << 20,
        "connections.max.idle.ms": 600_000,
        "socket.connection.setup.timeout.ms": 10_000,
    }
    server = ProcessorServer(FakeTopology(), 0, config, None, None)
    server.req_rings = [Ring(mmap.mmap(-1, ring_bytes(capacity))) for _ in range(HANDLERS)]
    server._wakes = RecordedWakes()
    server._incarnations = [0] * HANDLERS
    server.loop, server.broker = RegistrationsOnly(), None
    return server


def drain(ring) -> list[bytes]:
    """Every record waiting in ``ring``, released as it is read."""
    out = []
    while (view := ring.peek()) is not None:
        out.append(bytes(view))
        ring.release()
    return out


def fill(ring, record_bytes: int = 10_000) -> None:
    """Push records of ``record_bytes`` until one more would not fit: a ring with no room."""
    while ring.can_push(record_bytes):
        ring.try_push(bytes(record_bytes))


BATCH = 110_000  # bytes of records per partition: three make a frame above LARGE_READ_BUFFER


def connection(server):
    """A started ProcessorConnection of ``server`` and the client's end of its socket pair."""
    ours, theirs = socket.socketpair()
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)  # a whole frame waits in it
    ours.setblocking(False)
    conn = ProcessorConnection(server, ours, "test", 7, NO_SESSION)
    conn.start()
    return conn, theirs


def partitions(topic, same_owner):
    """Three partitions of ``topic``: all owned by one handler, or by both."""
    first = 0 if owner(topic, 0, HANDLERS) == 0 else 1  # owned by handler 0
    return [first, first + 2, first + 4] if same_owner else [first, first + 1, first + 2]


def large_produce(parts, topic="orders", version=8, batch=BATCH):
    """A Produce of ``batch`` bytes per partition, larger than a connection's read buffer:
    (body, frame with its size prefix, as it goes on the wire)."""
    body = {
        "acks": -1,
        "timeout_ms": 30000,
        "transactional_id": None,
        "topic_data": [
            {
                "name": topic,
                "partition_data": [{"index": i, "records": f"{topic}-{i}|".encode().ljust(batch, b".")} for i in parts],
            }
        ],
    }
    frame = protocol.encode_request(0, version, 42, "client-a", body)
    assert len(frame) > LARGE_READ_BUFFER + 4
    return body, frame
