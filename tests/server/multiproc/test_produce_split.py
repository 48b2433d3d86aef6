"""The byte-level Produce split and join (server/multiproc/produce_split.py) against the generic
path (routing.split_by_owner / join_responses and the codecs): the same bytes for random requests
and answers of every version served, and None, never a wrong answer, for anything malformed; and
``routing.cut_by_owner``, the one place both routing paths cut a request, taking either."""

from __future__ import annotations

import random

import pytest

from hpbroker import protocol
from hpbroker.server.multiproc import produce_split, routing
from hpbroker.server.multiproc.routing import join_responses, owners_of, partition_order, route_for, split_by_owner

SPLIT = route_for(0).split


def _request(rng: random.Random) -> dict:
    topics = []
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(["t", "orders", "ünïcode", "a" * 40, "x.y-z_1"])
        parts = [
            {"index": rng.choice([0, 1, 2, 3, 5, 8, 40]), "records": rng.randbytes(rng.randint(0, 200))}
            for _ in range(rng.randint(0, 6))
        ]
        topics.append({"name": name, "partition_data": parts})
    return {
        "transactional_id": rng.choice([None, "", "tx-1"]),
        "acks": rng.choice([-1, 0, 1]),
        "timeout_ms": rng.randint(0, 30000),
        "topic_data": topics,
    }


def _frame(version, request, client_id="client-1"):
    return memoryview(b"".join(protocol.encode_request_parts(0, version, 77, client_id, request)))


def _answer(rng, version, sub: dict) -> bytes:
    body = {
        "throttle_time_ms": rng.choice([0, 0, 5]),
        "responses": [
            {
                "name": t["name"],
                "partition_responses": [
                    {
                        "index": p["index"],
                        "error_code": rng.choice([0, 0, 6, 10]),
                        "base_offset": rng.randint(-1, 10**12),
                        "log_append_time_ms": rng.choice([-1, 1_700_000_000_000]),
                        "log_start_offset": rng.randint(-1, 99),
                        "record_errors": [
                            {
                                "batch_index": rng.randint(0, 9),
                                "batch_index_error_message": rng.choice([None, "bad record"]),
                            }
                            for _ in range(rng.choice([0, 0, 2]))
                        ],
                        "error_message": rng.choice([None, "", "Message too large"]),
                    }
                    for p in t["partition_data"]
                ],
            }
            for t in sub["topic_data"]
        ],
    }
    return b"".join(protocol.encode_response_parts(0, version, 77, body))


@pytest.mark.parametrize("version", range(3, 9))
def test_split_and_join_give_the_generic_bytes(version):
    rng = random.Random(version)
    for _ in range(300):
        request = _request(rng)
        frame = _frame(version, request)
        header, offset = protocol.decode_request_header(frame)
        decoded = protocol.decode_request(0, version, frame, offset)
        handlers = rng.choice([1, 2, 3, 4])
        layout = produce_split.scan(frame, offset)
        assert layout is not None
        assert produce_split.owners(layout, handlers) == owners_of(decoded, SPLIT, handlers)
        generic = split_by_owner(decoded, SPLIT, handlers)
        mine = produce_split.split(frame, offset, layout, handlers)
        assert list(mine) == list(generic)
        for h, sub in generic.items():
            want = b"".join(protocol.encode_request_parts(0, version, 77, header.client_id, sub))
            assert b"".join(bytes(c) for c in mine[h]) == want
        order = produce_split.order_of(layout)
        assert order.as_request() == partition_order(decoded, SPLIT)

        frames = [_answer(rng, version, sub) for sub in generic.values()]
        bodies = []
        for f in frames:
            _, at = protocol.decode_response_header(0, version, f, 4)
            bodies.append(protocol.decode_response(0, version, f, at))
        want = b"".join(
            protocol.encode_response_parts(
                0, version, 77, join_responses(partition_order(decoded, SPLIT), SPLIT, bodies)
            )
        )
        assert b"".join(produce_split.join(order, version, 77, frames)) == want


def test_anything_unexpected_takes_the_generic_path():
    request = {
        "transactional_id": None,
        "acks": 1,
        "timeout_ms": 100,
        "topic_data": [
            {"name": "t", "partition_data": [{"index": 0, "records": b"abc"}, {"index": 1, "records": b"de"}]}
        ],
    }
    frame = bytes(_frame(8, request))
    _, offset = protocol.decode_request_header(memoryview(frame))
    assert produce_split.scan(memoryview(frame), offset) is not None
    assert produce_split.scan(memoryview(frame + b"\0"), offset) is None  # trailing bytes
    for cut in range(offset, len(frame)):
        assert produce_split.scan(memoryview(frame[:cut]), offset) is None  # every truncation
    null_records = dict(request, topic_data=[{"name": "t", "partition_data": [{"index": 0, "records": None}]}])
    f = _frame(8, null_records)
    assert produce_split.scan(f, protocol.decode_request_header(f)[1]) is None
    bad_name = bytearray(frame)
    bad_name[bad_name.index(b"\x00\x01t") + 2] = 0xFF  # not UTF-8
    assert produce_split.scan(memoryview(bytes(bad_name)), offset) is None

    order = produce_split.Order((("t", (0, 1)),))
    answer = _answer(random.Random(1), 8, request)
    assert produce_split.join(order, 8, 77, [answer]) is not None
    assert produce_split.join(order, 8, 77, [answer + b"\0"]) is None  # size prefix disagrees
    for cut in range(8, len(answer)):
        short = (cut - 4).to_bytes(4, "big") + answer[4:cut]
        assert produce_split.join(order, 8, 77, [short]) is None


@pytest.mark.parametrize("version", range(3, 9))
def test_cut_by_owner_cuts_on_bytes_and_falls_back_to_the_codecs(version, monkeypatch):
    rng = random.Random(100 + version)
    for _ in range(100):
        request = _request(rng)
        frame = _frame(version, request)
        header, offset = protocol.decode_request_header(frame)
        handlers = rng.choice([1, 2, 3])
        on_bytes = routing.cut_by_owner(header, frame, offset, SPLIT, handlers)
        with monkeypatch.context() as m:
            m.setattr(produce_split, "scan", lambda *a: None)  # a Produce the byte walk doubts
            decoded = routing.cut_by_owner(header, frame, offset, SPLIT, handlers)
        assert on_bytes.owners == decoded.owners
        if handlers == 1:
            assert on_bytes.owners == [0] and on_bytes.parts is None
        if on_bytes.parts is None:
            assert decoded.parts is None and len(on_bytes.owners) <= 1
            continue
        assert isinstance(on_bytes.order, produce_split.Order)
        assert on_bytes.order.as_request() == decoded.order
        assert {h: b"".join(bytes(c) for c in p) for h, p in on_bytes.parts.items()} == {
            h: b"".join(bytes(c) for c in p) for h, p in decoded.parts.items()
        }


def test_cut_by_owner_of_another_partitioned_request():
    request = {
        "replica_id": -1,
        "isolation_level": 0,
        "topics": [
            {
                "name": t,
                "partitions": [{"partition_index": i, "current_leader_epoch": -1, "timestamp": -1} for i in range(4)],
            }
            for t in ("a", "b")
        ],
    }
    frame = memoryview(b"".join(protocol.encode_request_parts(2, 7, 9, "c", request)))
    header, offset = protocol.decode_request_header(frame)
    split = route_for(2).split
    cut = routing.cut_by_owner(header, frame, offset, split, 2)
    assert sorted(cut.owners) == [0, 1] and set(cut.parts) == {0, 1}
    for h, parts in cut.parts.items():
        part = b"".join(bytes(c) for c in parts)
        _, at = protocol.decode_request_header(part)
        sub = protocol.decode_request(2, 7, part, at)
        assert all(
            routing.owner(t["name"], p["partition_index"], 2) == h for t in sub["topics"] for p in t["partitions"]
        )
    assert cut.order == partition_order(protocol.decode_request(2, 7, frame, offset), split)
