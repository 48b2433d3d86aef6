"""A processor receiving a large Produce straight into a ring record: taken only when the rest
of the frame is already in the kernel's receive buffer, never published in part, all or nothing
when split, and the ordinary path (through the connection's large-frame buffer) otherwise."""

import pytest

from hpbroker import protocol
from hpbroker.broker.routes import owned_request
from hpbroker.server.multiproc import envelope as env
from hpbroker.server.multiproc import processor_connection, produce_split
from hpbroker.server.multiproc.routing import owner, route_for
from tests.server.multiproc.processor_fakes import (
    BATCH,
    HANDLERS,
    connection,
    drain,
    fill,
    large_produce,
    partitions,
    processor_server,
)

RING = 1 << 20


def _server(capacity=RING):
    return processor_server(capacity)


def _envelope(record):
    conn_id, seq, kind, api_key, version, _, correlation_id, _ = env.REQUEST.unpack_from(record)
    return conn_id, seq, kind, api_key, version, correlation_id


def test_a_large_produce_already_buffered_goes_straight_into_a_ring_record():
    _, frame = large_produce(partitions("orders", same_owner=True))
    server = _server()
    conn, peer = connection(server)
    peer.sendall(frame)
    conn._on_readable()  # the first 64 KiB into the read buffer, the rest into the record
    assert server.slot_frames == 1 and server.slot_fallbacks == 0
    assert conn._big is None and conn._frame is None  # the large-frame buffer was never used
    (record,) = drain(server.req_rings[0])
    assert _envelope(record) == (7, 0, env.WHOLE, 0, 8, 42)
    assert record[env.REQUEST.size :] == frame[4:]
    assert drain(server.req_rings[1]) == []
    assert conn._next_seq == 1 and list(server.pending) == [(7, 0)]
    assert server._wakes.woken == [0]
    assert server.req_rings[0].can_push(10)  # no reservation left open


def test_a_split_large_produce_sends_each_owner_its_partitions_and_joins_the_answers():
    body, frame = large_produce(partitions("orders", same_owner=False))
    server = _server()
    conn, peer = connection(server)
    peer.sendall(frame)
    conn._on_readable()
    assert server.slot_frames == 1 and conn._big is None
    (first,) = drain(server.req_rings[0])  # the whole frame, flagged OWNED
    assert _envelope(first) == (7, 0, env.OWNED, 0, 8, 42) and first[env.REQUEST.size :] == frame[4:]
    (second,) = drain(server.req_rings[1])  # only handler 1's partitions, copied once
    assert _envelope(second) == (7, 0, env.OWNED, 0, 8, 42)
    assert BATCH < len(second) < BATCH + 200
    (pend,) = server.pending.values()
    assert pend.handlers == (0, 1) and isinstance(pend.request, produce_split.Order)  # cut on bytes
    split = route_for(0).split
    for h, record in ((1, second), (0, first)):  # answers arrive in any order
        payload = record[env.REQUEST.size :]
        request = protocol.decode_request(0, 8, payload, protocol.decode_request_header(payload)[1])
        # what the handler acts on: its own partitions (handler_process restricts OWNED records)
        mine = owned_request(request, split, lambda t, p, h=h: owner(t, p, HANDLERS) == h)
        assert [p["index"] for t in mine["topic_data"] for p in t["partition_data"]] == [
            p for p in partitions("orders", False) if owner("orders", p, HANDLERS) == h
        ]
        answer = {
            "responses": [
                {
                    "name": t["name"],
                    "partition_responses": [
                        {"index": p["index"], "error_code": 0, "base_offset": 1000 * h} for p in t["partition_data"]
                    ],
                }
                for t in mine["topic_data"]
            ]
        }
        server._deliver(pend, env.FRAME, memoryview(protocol.encode_response(0, 8, 42, answer)))
    assert not server.pending
    peer.settimeout(5)
    response = peer.recv(1 << 16)  # the joined answer, sent on the connection
    joined = protocol.decode_response(0, 8, response, protocol.decode_response_header(0, 8, response, 4)[1])
    assert [(p["index"], p["base_offset"]) for t in joined["responses"] for p in t["partition_responses"]] == [
        (p["index"], 1000 * owner("orders", p["index"], HANDLERS)) for p in body["topic_data"][0]["partition_data"]
    ]


def test_a_split_frame_whose_other_owner_is_full_takes_the_ordinary_path_all_or_nothing():
    _, frame = large_produce(partitions("orders", same_owner=False))
    server = _server()
    filler = server.req_rings[1]
    fill(filler)
    conn, peer = connection(server)
    peer.sendall(frame)
    conn._on_readable()
    assert server.slot_frames == 0 and server.slot_fallbacks == 1
    assert server.req_rings[0].peek() is None  # the first owner got nothing either
    assert conn in server.stalled and conn._stalled is not None and not conn._reading
    drain(filler)
    conn.retry()  # the handler made room
    assert conn._stalled is None and conn._next_seq == 1
    assert [len(r) for r in drain(server.req_rings[0])] and [len(r) for r in drain(filler)]


def test_a_full_ring_falls_back_and_the_frame_waits_for_room():
    _, frame = large_produce(partitions("orders", same_owner=True))
    server = _server()
    ring = server.req_rings[0]
    fill(ring)
    conn, peer = connection(server)
    peer.sendall(frame)
    conn._on_readable()  # reserve fails: the first bytes go to the large-frame buffer
    assert conn._frame is conn._big and conn._frame_filled > 0
    conn._on_readable()  # still full: the rest too, then the ring push fails
    assert server.slot_frames == 0 and conn in server.stalled and not conn._reading
    drain(ring)
    conn.retry()
    (record,) = drain(ring)
    assert record[env.REQUEST.size :] == frame[4:] and _envelope(record)[:3] == (7, 0, env.WHOLE)


def test_a_trickled_frame_is_received_into_the_large_frame_buffer_until_the_rest_is_there():
    _, frame = large_produce(partitions("orders", same_owner=True))
    server = _server()
    conn, peer = connection(server)
    cut = 150_000
    peer.sendall(frame[:cut])
    conn._on_readable()  # rest not there: the ordinary path
    assert conn._frame is conn._big and server.slot_frames == 0
    conn._on_readable()
    assert conn._frame_filled == cut - 4
    peer.sendall(frame[cut:])
    conn._on_readable()  # now the rest is all there: received into the record
    assert server.slot_frames == 1 and conn._frame is None
    (record,) = drain(server.req_rings[0])
    assert record[env.REQUEST.size :] == frame[4:]


@pytest.mark.parametrize("pending", [False, True], ids=["head-in-read-buffer", "head-in-frame-buffer"])
def test_a_short_read_inside_the_record_gives_the_bytes_back_and_publishes_nothing(pending, monkeypatch):
    _, frame = large_produce(partitions("orders", same_owner=True))
    server = _server()
    conn, peer = connection(server)
    cut = 200_000
    if pending:  # the first bytes already went the ordinary way
        peer.sendall(frame[:100_000])
        conn._on_readable()
        conn._on_readable()
        assert conn._frame_filled == 100_000 - 4
        peer.sendall(frame[100_000:cut])
    else:
        peer.sendall(frame[:cut])
    monkeypatch.setattr(processor_connection, "readable_bytes", lambda sock: 1 << 30)  # FIONREAD "lies"
    conn._on_readable()
    assert server.slot_fallbacks == 1 and server.slot_frames == 0
    assert server.req_rings[0].peek() is None and server.req_rings[0].can_push(10)  # abandoned
    assert conn._frame is conn._big and conn._frame_filled == cut - 4
    assert bytes(conn._big[: cut - 4]) == frame[4:cut]
    monkeypatch.undo()
    peer.sendall(frame[cut:])
    conn._on_readable()
    (record,) = drain(server.req_rings[0])
    assert record[env.REQUEST.size :] == frame[4:] and server.slot_frames == 1


def test_a_smaller_large_frame_that_waits_for_room_is_still_intact_on_retry():
    """The large-frame buffer is reused and longer than this frame: the stalled frame is a
    view of it, which must stay usable until the retry."""
    server = _server()
    ring = server.req_rings[0]
    conn, peer = connection(server)
    _, big = large_produce(partitions("orders", same_owner=True), batch=BATCH + 20_000)
    fill(ring)
    peer.sendall(big)
    conn._on_readable()
    conn._on_readable()
    drain(ring)
    conn.retry()
    drain(ring)
    fill(ring)
    _, frame = large_produce(partitions("orders", same_owner=True))
    peer.sendall(frame)
    conn._on_readable()
    conn._on_readable()
    assert len(conn._big) > len(frame) and conn in server.stalled
    drain(ring)
    conn.retry()
    (record,) = drain(ring)
    assert record[env.REQUEST.size :] == frame[4:]


@pytest.mark.parametrize("version", [3, 8])
@pytest.mark.parametrize("fionread_lies", [False, True], ids=["ordinary-path", "in-the-record"])
def test_a_peer_that_closes_mid_frame_is_closed_and_nothing_is_published(version, fionread_lies, monkeypatch):
    _, frame = large_produce(partitions("orders", same_owner=True), version=version)
    server = _server()
    conn, peer = connection(server)
    peer.sendall(frame[:-10])
    peer.close()  # FIN: the frame never completes
    if fionread_lies:
        monkeypatch.setattr(processor_connection, "readable_bytes", lambda sock: 1 << 30)
    for _ in range(3):
        if not conn.closed:
            conn._on_readable()
    assert conn.closed and server.slot_frames == 0
    assert server.req_rings[0].peek() is None and server.req_rings[0].can_push(10)
