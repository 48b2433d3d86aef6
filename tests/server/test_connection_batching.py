"""Connection: answers to pipelined requests leave in one send, and a large-frame buffer nobody
references any more is reused for the next large frame (in-process broker, raw client)."""

import threading
import time

from hpbroker import protocol
from hpbroker.records.batch import read_header
from hpbroker.records.builder import build_batch
from hpbroker.records.records import iter_batch_records
from hpbroker.testing import running_broker, wait_until
from tests.integration.rawclient import RawClient, produce_body, produce_result

API_VERSIONS, PRODUCE, FETCH, CREATE_TOPICS = 18, 0, 1, 19


class CountingSocket:
    """Wraps a connection's socket and counts the sends made on it (and their flags)."""

    def __init__(self, sock):
        self._sock = sock
        self.sendmsg_calls = 0
        self.flags = []

    def sendmsg(self, buffers, *args):
        self.sendmsg_calls += 1
        self.flags.append(args[1] if len(args) > 1 else 0)
        return self._sock.sendmsg(buffers, *args)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def _only_connection(server, timeout=5.0):
    wait_until(lambda: len(server.connections) == 1, timeout, "exactly one connection at the broker")
    return next(iter(server.connections))


def _spare_of(conn, timeout=2.0):
    # the answer leaves before the reading code looks at the buffer's references: wait for it
    wait_until(
        lambda: conn._spare is not None, timeout, "the answered large frame's buffer kept for reuse", interval=0.005
    )
    # an id, not the buffer: holding a reference here would itself stop the reuse
    return id(conn._spare)


def _read_all(client, topic):
    """Every record value of partition 0 of ``topic``, by one Fetch from offset 0."""
    fetch = {
        "replica_id": -1,
        "max_wait_ms": 0,
        "min_bytes": 1,
        "max_bytes": 4 << 20,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": 0,
                        "current_leader_epoch": -1,
                        "fetch_offset": 0,
                        "log_start_offset": -1,
                        "partition_max_bytes": 4 << 20,
                    }
                ],
            }
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }
    records = bytes(client.request(FETCH, 11, fetch)["responses"][0]["partitions"][0]["records"])
    got, pos = [], 0
    while pos < len(records):
        got += [bytes(r.value) for r in iter_batch_records(records, pos)]
        pos += read_header(records, pos).size
    return got


def _create_topic(client, name, configs=()):
    body = {
        "topics": [
            {
                "name": name,
                "num_partitions": 1,
                "replication_factor": 1,
                "assignments": [],
                "configs": [{"name": k, "value": v} for k, v in configs],
            }
        ],
        "timeout_ms": 5000,
        "validate_only": False,
    }
    resp = client.request(CREATE_TOPICS, 4, body)
    assert resp["topics"][0]["error_code"] == 0


def test_pipelined_answers_leave_in_one_send():
    with running_broker() as b, RawClient(b.bootstrap) as client:
        client.request(API_VERSIONS, 3, {"client_software_name": "t", "client_software_version": "1"})
        conn = _only_connection(b.server)
        counting = CountingSocket(conn.sock)
        conn.sock = counting
        conn._recv_into = counting.recv_into
        burst = 40
        frames = [
            protocol.encode_request(
                API_VERSIONS, 3, 100 + i, "t", {"client_software_name": "t", "client_software_version": "1"}
            )
            for i in range(burst)
        ]
        client.sock.sendall(b"".join(frames))
        for i in range(burst):
            frame = client.recv_frame()
            header, _ = protocol.decode_response_header(API_VERSIONS, 3, frame, 0)
            assert header.correlation_id == 100 + i  # still in request order
        # One recv usually brings the whole 1.5 KB burst; allow the kernel to split it a few
        # times, but one send per answer (40) is what uncorked code does.
        assert counting.sendmsg_calls <= 4, counting.sendmsg_calls


def test_large_frame_buffer_is_reused_and_data_stays_intact():
    with running_broker() as b, RawClient(b.bootstrap) as client:
        _create_topic(client, "big")
        conn = _only_connection(b.server)
        values = [[bytes([k]) * 1000 for _ in range(300)] for k in range(1, 4)]  # ~300 KB frames
        offsets = []
        buffers = []
        for vs in values:
            resp = client.request(PRODUCE, 8, produce_body("big", 0, build_batch(vs)))
            error, base = produce_result(resp)
            assert error == 0
            offsets.append(base)
            buffers.append(_spare_of(conn))
        assert offsets == [0, 300, 600]
        assert buffers[0] is not None, "an answered large frame should be kept for reuse"
        assert buffers[1] == buffers[0] and buffers[2] == buffers[0], "the buffer is reused"
        # each batch was written before its buffer was reused: read all three back
        assert _read_all(client, "big") == [v for vs in values for v in vs]


def test_read_buffer_grows_once_for_a_producer_and_mid_size_frames_arrive_whole():
    from hpbroker.server.connection import LARGE_READ_BUFFER, READ_BUFFER

    with running_broker() as b, RawClient(b.bootstrap) as client, RawClient(b.bootstrap) as idle:
        _create_topic(client, "mid")
        idle.request(API_VERSIONS, 3, {"client_software_name": "t", "client_software_version": "1"})
        values = [[bytes([k]) * 1000 for _ in range(150)] for k in range(1, 4)]  # ~150 KB frames
        # the second frame trickles in: its size prefix and a few bytes, then the rest
        resp = client.request(PRODUCE, 8, produce_body("mid", 0, build_batch(values[0])))
        assert produce_result(resp) == (0, 0)
        frame = protocol.encode_request(PRODUCE, 8, 77, "raw", produce_body("mid", 0, build_batch(values[1])))
        client.sock.sendall(frame[:10])
        time.sleep(0.05)  # pacing, the point of the test: each part reaches the broker on its own
        client.sock.sendall(frame[10:70000])
        time.sleep(0.05)
        client.sock.sendall(frame[70000:])
        reply = client.recv_frame()
        header, offset = protocol.decode_response_header(PRODUCE, 8, reply, 0)
        assert header.correlation_id == 77
        assert produce_result(protocol.decode_response(PRODUCE, 8, reply, offset)) == (0, 150)
        resp = client.request(PRODUCE, 8, produce_body("mid", 0, build_batch(values[2])))
        assert produce_result(resp) == (0, 300)
        sizes = sorted(len(c._buf) for c in b.server.connections)
        assert sizes == [READ_BUFFER, LARGE_READ_BUFFER], sizes  # the idle client kept 64 KiB
        assert all(c._frame is None for c in b.server.connections)
        assert _read_all(client, "mid") == [v for vs in values for v in vs]


def test_an_idle_producer_gives_back_its_grown_buffers():
    from hpbroker.server.connection import IDLE_TRIM_S, READ_BUFFER

    with running_broker() as b, RawClient(b.bootstrap) as client:
        _create_topic(client, "trim", [("max.message.bytes", "4000000")])
        conn = _only_connection(b.server)
        mid = [b"m" * 1000] * 150  # ~150 KB: grows the read buffer
        big = [b"b" * 1000] * 1200  # ~1.2 MB: a large-frame buffer kept as the spare
        assert produce_result(client.request(PRODUCE, 8, produce_body("trim", 0, build_batch(mid)))) == (0, 0)
        assert produce_result(client.request(PRODUCE, 8, produce_body("trim", 0, build_batch(big)))) == (0, 150)
        assert _spare_of(conn) is not None and len(conn._buf) > READ_BUFFER

        def trim_at(later):
            done, out = threading.Event(), []
            b.server.loop.call_soon_threadsafe(
                lambda: (out.append(conn.trim(b.server.loop.time() + later)), done.set())
            )
            assert done.wait(5)
            return out[0]

        assert trim_at(0) is False  # just used: kept
        assert len(conn._buf) > READ_BUFFER and conn._spare is not None
        assert trim_at(IDLE_TRIM_S + 1) is True
        assert len(conn._buf) == READ_BUFFER and conn._spare is None
        # and it grows again when needed, with nothing lost
        assert produce_result(client.request(PRODUCE, 8, produce_body("trim", 0, build_batch(mid)))) == (0, 1350)
        assert _read_all(client, "trim") == mid + big + mid


class RecordingSocket(CountingSocket):
    """Also records how many bytes each recv_into offered to take."""

    def __init__(self, sock):
        super().__init__(sock)
        self.offered = []

    def recv_into(self, buffer, *args):
        self.offered.append(len(buffer))
        return self._sock.recv_into(buffer, *args)


def test_after_a_large_frame_the_next_head_is_read_small():
    """The first bytes of a large frame are copied into its own buffer: after a large frame the
    read at the next frame boundary takes LARGE_FRAME_HEAD_READ, not the whole read buffer
    (64 or 256 KiB), so that copy is 16 KiB; the rest goes straight into the frame. A small frame
    in between puts the reads back to normal, and every byte still lands."""
    from hpbroker.server.connection import LARGE_FRAME_HEAD_READ

    with running_broker() as b, RawClient(b.bootstrap) as client:
        _create_topic(client, "heads")
        conn = _only_connection(b.server)
        rec = RecordingSocket(conn.sock)
        conn.sock = rec
        conn._recv_into = rec.recv_into
        values = [[bytes([k]) * 1000 for _ in range(300)] for k in range(1, 4)]  # ~300 KB frames
        assert produce_result(client.request(PRODUCE, 8, produce_body("heads", 0, build_batch(values[0])))) == (0, 0)
        assert conn._large_next
        rec.offered.clear()
        assert produce_result(client.request(PRODUCE, 8, produce_body("heads", 0, build_batch(values[1])))) == (0, 300)
        assert rec.offered[0] == LARGE_FRAME_HEAD_READ, rec.offered
        client.request(API_VERSIONS, 3, {"client_software_name": "t", "client_software_version": "1"})
        assert not conn._large_next  # a small frame: the next read is a normal one again
        rec.offered.clear()
        assert produce_result(client.request(PRODUCE, 8, produce_body("heads", 0, build_batch(values[2])))) == (0, 600)
        assert rec.offered[0] == len(conn._buf) > LARGE_FRAME_HEAD_READ, rec.offered  # the whole buffer
        assert _read_all(client, "heads") == [v for vs in values for v in vs]


def test_a_fetch_answer_header_waits_for_its_records():
    # The header goes with MSG_MORE when the records follow by sendfile, so that it leaves in
    # the records' first segment instead of as a packet (and a wake-up of the consumer) alone;
    # an answer that is all bytes goes out at once.
    import socket

    with running_broker() as b, RawClient(b.bootstrap) as client:
        _create_topic(client, "more")
        values = [bytes([i]) * 1000 for i in range(50)]
        error, _ = produce_result(client.request(PRODUCE, 8, produce_body("more", 0, build_batch(values))))
        assert error == 0
        conn = _only_connection(b.server)
        counting = CountingSocket(conn.sock)
        conn.sock = counting
        conn._recv_into = counting.recv_into
        assert _read_all(client, "more") == values  # header by sendmsg, records by sendfile
        assert counting.flags == [socket.MSG_MORE]
        client.request(API_VERSIONS, 3, {"client_software_name": "t", "client_software_version": "1"})
        assert counting.flags == [socket.MSG_MORE, 0]
