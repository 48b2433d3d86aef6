"""A handler restart, as a processor notices it at its next tick: only the requests pushed to
the previous incarnation are failed (their connections closed, the client retries); a request
pushed to the new incarnation before that tick is its own and is not."""

from hpbroker import protocol
from hpbroker.server.multiproc.routing import owner
from tests.server.multiproc.processor_fakes import HANDLERS, processor_server


class _Conn:
    closed = False
    stamp = request_bytes = _read_ns = 0  # request metrics: when and how large (unused here)

    def __init__(self, conn_id):
        self.conn_id = conn_id
        self._next_seq = 0
        self.closed_because = None

    def close(self, reason=None):
        self.closed_because = reason


def _produce_to(h):
    """A one-partition Produce of a partition handler ``h`` owns (the frame without its size)."""
    index = next(i for i in range(100) if owner("orders", i, HANDLERS) == h)
    body = {
        "acks": 1,
        "timeout_ms": 1000,
        "transactional_id": None,
        "topic_data": [{"name": "orders", "partition_data": [{"index": index, "records": b"r" * 100}]}],
    }
    return memoryview(bytearray(protocol.encode_request(0, 8, 1, "c", body)[4:]))


def test_only_requests_pushed_to_the_old_incarnation_are_failed():
    server = processor_server(1 << 16)
    before, after, other = _Conn(1), _Conn(2), _Conn(3)
    assert server.route(before, _produce_to(1))  # to handler 1, incarnation 0
    server.topo.incarnations[1] = 1  # handler 1 restarted: its rings were discarded
    assert server.route(after, _produce_to(1))  # to the new incarnation
    assert server.route(other, _produce_to(0))  # handler 0: untouched
    server._incarnations[1] = 1  # what the tick does when it sees the bump ...
    server._handler_restarted(1)  # ... and then this
    assert before.closed_because == "handler 1 restarted while answering"
    assert after.closed_because is None and other.closed_because is None
    assert {conn_id for conn_id, _ in server.pending} == {2, 3}
