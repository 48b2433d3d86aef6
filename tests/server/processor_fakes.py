"""A ProcessorServer for unit tests: real routing and in-memory rings, no supervisor, no
sockets of its own, wake-ups recorded instead of written to eventfds."""
import mmap
import time

from hpbroker.server.processor import ProcessorServer
from hpbroker.server.ring import Ring, ring_bytes

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
    config = {"socket.request.max.bytes": 100 << 20, "connections.max.idle.ms": 600_000}
    server = ProcessorServer(FakeTopology(), 0, config, None, "127.0.0.1", 0)
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
