"""Hostile bytes: the offending connection is closed (or gets Kafka's error), everyone else is
served, memory does not follow a claimed size, and corrupt batches never reach the log."""

import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpbroker import protocol
from hpbroker.records.builder import build_batch
from tests.integration.conftest import confluent_consume_all, create_topic
from tests.integration.rawclient import RawClient, produce_body, produce_result

pytestmark = pytest.mark.integration


def _closed_after(bootstrap, payload: bytes) -> bool:
    with RawClient(bootstrap) as c:
        c.sock.sendall(payload)
        return c.is_closed_by_peer()


def _header(api_key, version, cid=1, client_id=b"x"):
    return struct.pack(">hhih", api_key, version, cid, len(client_id)) + client_id


def test_negative_and_oversized_frame_sizes_close(bootstrap):
    assert _closed_after(bootstrap, struct.pack(">i", -5))
    # 2 GB claimed: closed before anything is allocated
    assert _closed_after(bootstrap, struct.pack(">i", 0x7FFFFFF0) + b"\x00" * 10)


def test_truncated_header_unknown_key_bad_version_bad_body(bootstrap):
    assert _closed_after(bootstrap, struct.pack(">i", 3) + b"\x00\x01\x00")
    body = _header(999, 0)
    assert _closed_after(bootstrap, struct.pack(">i", len(body)) + body)
    body = _header(3, 99)  # Metadata v99
    assert _closed_after(bootstrap, struct.pack(">i", len(body)) + body)
    body = _header(3, 1) + struct.pack(">i", 1000)  # array count past the end
    assert _closed_after(bootstrap, struct.pack(">i", len(body)) + body)


def test_unsupported_api_versions_gets_v0_error_body(bootstrap):
    with RawClient(bootstrap) as c:
        body = _header(18, 99, cid=7) + b"\x00"  # header v2: an empty tagged-field section
        c.sock.sendall(struct.pack(">i", len(body)) + body)
        frame = c.recv_frame()
        cid, err, n = struct.unpack_from(">ihi", frame)
        assert (cid, err) == (7, 35) and n > 0
        keys = {
            struct.unpack_from(">hhh", frame, 10 + 6 * i)[0]: struct.unpack_from(">hhh", frame, 10 + 6 * i)[1:]
            for i in range(n)
        }
        assert keys[18] == (0, 4)


def test_corrupt_batch_is_refused_and_not_stored(bootstrap, topic_name):
    create_topic(bootstrap, topic_name)
    good = build_batch([b"good"])
    bad = bytearray(good)
    bad[-1] ^= 0x55
    with RawClient(bootstrap) as c:
        assert produce_result(c.request(0, 8, produce_body(topic_name, 0, bytes(bad))))[0] == 2  # CORRUPT_MESSAGE
        two = bytes(good) + bytes(build_batch([b"second"]))
        assert produce_result(c.request(0, 8, produce_body(topic_name, 0, two)))[0] == 87  # INVALID_RECORD
        assert produce_result(c.request(0, 8, produce_body(topic_name, 0, bytes(good)))) == (0, 0)
        big = build_batch([b"x" * 2_000_000])
        assert produce_result(c.request(0, 8, produce_body(topic_name, 0, bytes(big))))[0] == 10  # MESSAGE_TOO_LARGE
        assert produce_result(c.request(0, 8, produce_body(topic_name + "-none", 0, bytes(good))))[0] == 3
    got = confluent_consume_all(bootstrap, topic_name, 1, 1)
    assert [m.value() for m in got] == [b"good"]


def test_compressed_batch_claiming_more_records_than_it_holds_is_refused(bootstrap, topic_name):
    """recordsCount and lastOffsetDelta agree, the CRC is right, the lz4 payload holds 2 records:
    INVALID_RECORD, and the log end offset does not jump by the claimed count."""
    from crc32c import crc32c

    from hpbroker.records.layout import LZ4, OFF_ATTRIBUTES, OFF_CRC

    create_topic(bootstrap, topic_name)
    forged = build_batch([b"a", b"b"], compression=LZ4)
    struct.pack_into(">i", forged, 23, 999_999)  # lastOffsetDelta
    struct.pack_into(">i", forged, 57, 1_000_000)  # recordsCount
    struct.pack_into(">I", forged, OFF_CRC, crc32c(memoryview(forged)[OFF_ATTRIBUTES:]))
    with RawClient(bootstrap) as c:
        assert produce_result(c.request(0, 8, produce_body(topic_name, 0, bytes(forged))))[0] == 87
        honest = build_batch([b"c", b"d"], compression=LZ4)
        assert produce_result(c.request(0, 8, produce_body(topic_name, 0, bytes(honest)))) == (0, 0)
    got = confluent_consume_all(bootstrap, topic_name, 1, 2)
    assert [(m.offset(), m.value()) for m in got] == [(0, b"c"), (1, b"d")]


def _valid_frames():
    frames = []
    for key, version, body in [
        (18, 3, {"client_software_name": "fuzz", "client_software_version": "1"}),
        (
            3,
            8,
            {
                "topics": None,
                "allow_auto_topic_creation": False,
                "include_cluster_authorized_operations": False,
                "include_topic_authorized_operations": False,
            },
        ),
        (0, 8, produce_body("fuzz", 0, bytes(build_batch([b"a", b"b"])))),
        (
            1,
            11,
            {
                "replica_id": -1,
                "max_wait_ms": 0,
                "min_bytes": 1,
                "max_bytes": 1000,
                "isolation_level": 0,
                "session_id": 0,
                "session_epoch": -1,
                "topics": [
                    {
                        "topic": "fuzz",
                        "partitions": [
                            {
                                "partition": 0,
                                "current_leader_epoch": -1,
                                "fetch_offset": 0,
                                "log_start_offset": -1,
                                "partition_max_bytes": 1000,
                            }
                        ],
                    }
                ],
                "forgotten_topics_data": [],
                "rack_id": "",
            },
        ),
    ]:
        frames.append(protocol.encode_request(key, version, 1, "fuzz", body))
    return frames


FRAMES = _valid_frames()


@st.composite
def hostile_frames(draw):
    kind = draw(st.sampled_from(["random", "mutated", "truncated"]))
    if kind == "random":
        body = draw(st.binary(min_size=0, max_size=200))
        return struct.pack(">i", len(body)) + body
    frame = bytearray(draw(st.sampled_from(FRAMES)))
    if kind == "truncated":
        cut = draw(st.integers(4, len(frame) - 1))
        body = frame[4:cut]
        return struct.pack(">i", len(body)) + bytes(body)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(4, len(frame) - 1))
        frame[i] = draw(st.integers(0, 255))
    return bytes(frame)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(hostile_frames(), min_size=1, max_size=4))
def test_random_and_mutated_frames_then_clients_still_work(bootstrap, frames):
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        for f in frames:
            try:
                s.sendall(f)
            except OSError:
                break
        s.settimeout(0.05)
        try:
            while s.recv(65536):
                pass
        except (TimeoutError, OSError):
            pass


def test_clients_work_after_fuzzing(bootstrap, topic_name):
    # runs after the fuzz test in this module: the broker must still serve a real client
    test_random_and_mutated_frames_then_clients_still_work(bootstrap)
    from confluent_kafka import Producer

    create_topic(bootstrap, topic_name)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(20):
        p.produce(topic_name, value=b"after-%d" % i)
    assert p.flush(15) == 0
    assert len(confluent_consume_all(bootstrap, topic_name, 1, 20)) == 20


def _unread_by_broker(port: int, client_ports: set[int]) -> list[int]:
    """Bytes received but not yet read on the broker's side of each IPv4 connection from
    ``client_ports`` (the rx_queue column of /proc/net/tcp)."""
    unread = []
    with open("/proc/net/tcp") as f:
        for line in list(f)[1:]:
            fields = line.split()
            local, remote, rx_queue = fields[1], fields[2], fields[4].split(":")[1]
            if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) in client_ports:
                unread.append(int(rx_queue, 16))
    return unread


def test_memory_follows_bytes_sent_not_sizes_claimed():
    import psutil

    from hpbroker.testing import running_broker, wait_until

    with running_broker(subprocess=True) as b:
        proc = psutil.Process(b.process.pid)
        # virtual size: a zero-filled buffer of the claimed size would not show in RSS until written
        before = proc.memory_info().vms
        socks = []
        try:
            for _ in range(40):  # 40 x 100 MB claimed = 4 GB if sizes were trusted
                s = socket.create_connection((b.host, b.port), timeout=5)
                s.sendall(struct.pack(">i", 100_000_000) + b"\x00" * 70_000)
                socks.append(s)
            # every connection accepted and its large frame begun: the broker has read from each
            # (what it leaves in the kernel waits for the rest of the frame, SO_RCVLOWAT)
            ports = {s.getsockname()[1] for s in socks}
            wait_until(
                lambda: (u := _unread_by_broker(b.port, ports)) and len(u) == len(ports) and max(u) < 4 + 70_000,
                15,
                "the broker to read from each of the 40 connections",
            )
            grown = proc.memory_info().vms - before
            assert grown < 400 * 1024 * 1024, f"broker grew by {grown} bytes"
            from confluent_kafka import Producer

            p = Producer({"bootstrap.servers": b.bootstrap})
            p.produce("still-serving", value=b"ok")
            assert p.flush(15) == 0
        finally:
            for s in socks:
                s.close()
