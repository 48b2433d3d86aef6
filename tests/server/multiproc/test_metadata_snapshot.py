"""The topic registry in shared memory: published by the controller, read by everyone else, never
torn, and the file only when there is no snapshot or the registry does not fit."""

import mmap
import struct

import pytest

from hpbroker.metadata.topics import TopicRegistry
from hpbroker.server.multiproc import metadata_snapshot as ms
from hpbroker.server.multiproc.metadata_snapshot import MetadataSnapshot, snapshot_bytes


def _snapshot(capacity=256):
    return MetadataSnapshot(memoryview(mmap.mmap(-1, snapshot_bytes(capacity))), capacity)


def _slot_at(snap, slot):
    return ms.HEAD_BYTES + slot * (16 + snap.capacity)


def test_never_published_reads_none_then_the_latest_publication():
    snap = _snapshot()
    assert snap.read() is None  # zero-filled segment: read the file
    assert snap.publish(b"one") and snap.read() == b"one"
    assert snap.publish(b"two, longer") and snap.read() == b"two, longer"
    assert snap.publish(b"3") and snap.read() == b"3"
    assert snap.publish(b"") and snap.read() == b""  # empty is a snapshot, not "none"


def test_publications_alternate_slots_so_the_current_one_is_never_written():
    snap = _snapshot()
    current = []
    for data in (b"a", b"bb", b"ccc", b"dddd"):
        snap.publish(data)
        current.append(struct.unpack_from("<Q", snap.buf, 0)[0])
    assert current == [1, 0, 1, 0]


def test_a_registry_larger_than_a_slot_sends_readers_to_the_file_until_one_fits():
    snap = _snapshot(capacity=8)
    assert snap.publish(b"12345678") and snap.read() == b"12345678"
    assert snap.publish(b"123456789") is False and snap.read() is None
    assert snap.publish(b"small") and snap.read() == b"small"


def test_a_writer_killed_half_way_leaves_the_current_snapshot_readable():
    snap = _snapshot()
    snap.publish(b"good")
    current = struct.unpack_from("<Q", snap.buf, 0)[0]
    other = _slot_at(snap, 1 - current)
    struct.pack_into("<QQ", snap.buf, other, 7, 3)  # odd sequence: a write that never finished
    snap.buf[other + 16 : other + 19] = b"bad"
    assert snap.read() == b"good"
    assert snap.publish(b"next") and snap.read() == b"next"  # the next controller writes over it


def test_a_slot_that_never_settles_is_an_error_not_a_torn_read(monkeypatch):
    monkeypatch.setattr(ms, "READ_ATTEMPTS", 20)
    snap = _snapshot()
    snap.publish(b"x")
    struct.pack_into("<Q", snap.buf, _slot_at(snap, 1), 9)  # the current slot (1) stays odd
    with pytest.raises(RuntimeError):
        snap.read()


def test_a_copy_raced_by_a_rewrite_of_its_slot_is_retried(monkeypatch):
    """The reader checks the slot's sequence after copying: when the writer published twice
    meanwhile (so it rewrote the very slot being copied), the copy is dropped and read again."""
    snap = _snapshot()
    snap.publish(b"first")
    real_bytes = bytes
    raced = []

    def racing_bytes(view):
        out = real_bytes(view)
        if not raced:
            raced.append(True)
            snap.publish(b"second")
            snap.publish(b"third")  # back to the slot the reader is copying
        return out

    monkeypatch.setattr(ms, "bytes", racing_bytes, raising=False)
    assert snap.read() == b"third"


def test_registry_round_trips_through_bytes(tmp_path):
    reg = TopicRegistry(tmp_path / "__topics.json")
    reg.create("orders", 3, {"retention.ms": "1000"})
    reg.set_broker_configs({"log.retention.ms": "5"})
    copy = TopicRegistry.from_bytes(tmp_path / "elsewhere.json", reg.to_bytes())
    assert [(t.name, t.topic_id, t.num_partitions, t.configs) for t in copy] == [
        ("orders", reg.get("orders").topic_id, 3, {"retention.ms": "1000"})
    ]
    assert copy.broker_configs == {"log.retention.ms": "5"} and not (tmp_path / "elsewhere.json").exists()
    assert (tmp_path / "__topics.json").read_bytes() == reg.to_bytes()  # the file holds the same bytes


def test_processes_read_the_published_registry_not_the_file(tmp_path, monkeypatch):
    from hpbroker.server.multiproc import topology

    monkeypatch.setattr(topology, "METADATA_SNAPSHOT_BYTES", 64 << 10)
    topo = topology.Topology(1, 1, request_ring_bytes=1 << 16, response_ring_bytes=1 << 16, slots_per_handler=16)
    try:
        path = tmp_path / "__topics.json"
        assert list(topo.read_registry(path)) == []  # nothing published, no file
        reg = TopicRegistry(path)
        reg.create("t", 2)
        topo.publish_registry(reg)
        path.write_text("{ not json")  # whatever the file holds now, readers take the snapshot
        assert [(t.name, t.num_partitions) for t in topo.read_registry(path)] == [("t", 2)]
    finally:
        topo.unlink()
