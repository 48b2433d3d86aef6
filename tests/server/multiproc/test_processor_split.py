"""A processor splitting a Produce by partition owner: each handler's ring gets its partitions
only (record bytes copied once, from the frame into one ring), all or nothing, and the partial
answers are joined in request order."""

from hpbroker import protocol
from hpbroker.server.multiproc import envelope as env
from hpbroker.server.multiproc import produce_split
from hpbroker.server.multiproc.routing import owner
from tests.server.multiproc.processor_fakes import HANDLERS, drain, processor_server

BATCH = 1000  # bytes of records per partition (the processor never looks inside them)


class _Conn:
    conn_id = 7
    closed = False
    stamp = request_bytes = _read_ns = 0  # request metrics: when and how large (unused here)

    def __init__(self):
        self._next_seq = 0
        self.completed = []

    def _complete(self, seq, parts, metrics=None):
        self.completed.append((seq, b"".join(bytes(p) for p in parts)))

    def close(self, reason=None):
        raise AssertionError(f"connection closed: {reason}")


def _server(capacity=1 << 16):
    return processor_server(capacity)


def _produce(version=8):
    """A 6-partition Produce (two topics) as a processor sees it: the frame without its size."""
    data = [("orders", [0, 1, 2, 3]), ("events", [1, 0])]
    body = {
        "acks": -1,
        "timeout_ms": 30000,
        "transactional_id": None,
        "topic_data": [
            {
                "name": t,
                "partition_data": [{"index": i, "records": f"{t}-{i}|".encode().ljust(BATCH, b".")} for i in ps],
            }
            for t, ps in data
        ],
    }
    frame = bytearray(protocol.encode_request(0, version, 42, "client-a", body)[4:])
    return body, frame


def test_each_ring_gets_only_the_partitions_its_handler_owns():
    body, frame = _produce()
    server, conn = _server(), _Conn()
    assert server.route(conn, memoryview(frame)) is True
    pushed = 0
    for h, ring in enumerate(server.req_rings):
        (record,) = drain(ring)
        pushed += len(record)
        conn_id, seq, kind, api_key, version, _, correlation_id, _ = env.REQUEST.unpack_from(record)
        assert (conn_id, seq, kind, api_key, version, correlation_id) == (7, 0, env.OWNED, 0, 8, 42)
        payload = record[env.REQUEST.size :]
        header, offset = protocol.decode_request_header(payload)
        assert (header.correlation_id, header.client_id) == (42, "client-a")
        sub = protocol.decode_request(0, 8, payload, offset)
        assert sub["acks"] == -1 and sub["timeout_ms"] == 30000
        got = [(t["name"], p["index"], bytes(p["records"])) for t in sub["topic_data"] for p in t["partition_data"]]
        mine = [
            (t["name"], p["index"], p["records"])
            for t in body["topic_data"]
            for p in t["partition_data"]
            if owner(t["name"], p["index"], HANDLERS) == h
        ]
        assert got == mine and 0 < len(mine) < 6
        # its partitions' bytes plus a small overhead, not the whole frame
        assert len(mine) * BATCH < len(record) < len(mine) * BATCH + 150
    assert pushed < len(frame) + 2 * env.REQUEST.size + 100  # every record byte pushed once
    assert conn._next_seq == 1


def test_a_full_ring_takes_nothing_from_a_split_request():
    _, frame = _produce()
    server, conn = _server(capacity=16384), _Conn()
    filler = server.req_rings[1]
    while filler.can_push(1000):
        filler.try_push(b"x" * 1000)
    assert server.route(conn, memoryview(frame)) is False
    assert server.req_rings[0].peek() is None  # the other owner got nothing either
    assert conn in server.stalled and conn._next_seq == 0 and not server.pending


def test_partial_answers_are_joined_in_request_order():
    body, frame = _produce(version=3)
    server, conn = _server(), _Conn()
    server.route(conn, memoryview(frame))
    (pend,) = server.pending.values()
    # the pending request keeps names and indexes only: no views pin the connection's buffer
    assert "records" not in repr(pend.request) and "memoryview" not in repr(pend.request)
    assert isinstance(pend.request, produce_split.Order)  # cut and joined on bytes
    for h in reversed(range(HANDLERS)):  # answers arrive in any order
        (record,) = drain(server.req_rings[h])
        payload = record[env.REQUEST.size :]
        sub = protocol.decode_request(0, 3, payload, protocol.decode_request_header(payload)[1])
        answer = {
            "responses": [
                {
                    "name": t["name"],
                    "partition_responses": [
                        {"index": p["index"], "error_code": 0, "base_offset": 100 * h + p["index"]}
                        for p in t["partition_data"]
                    ],
                }
                for t in sub["topic_data"]
            ]
        }
        server._deliver(pend, env.FRAME, memoryview(protocol.encode_response(0, 3, 42, answer)))
    ((seq, response),) = conn.completed
    joined = protocol.decode_response(0, 3, response, protocol.decode_response_header(0, 3, response, 4)[1])
    assert [(t["name"], [p["index"] for p in t["partition_responses"]]) for t in joined["responses"]] == [
        (t["name"], [p["index"] for p in t["partition_data"]]) for t in body["topic_data"]
    ]
    for t in joined["responses"]:
        for p in t["partition_responses"]:
            assert p["base_offset"] == 100 * owner(t["name"], p["index"], HANDLERS) + p["index"]
