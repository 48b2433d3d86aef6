"""PartitionLog unit tests: offsets, reads (KIP-74, bounds), rolls, retention, flush, checkpoints."""

from __future__ import annotations

import os

import pytest

from hpbroker.records import batch as rb
from hpbroker.records.builder import build_batch
from hpbroker.storage import LogConfig, OffsetOutOfRange, PartitionLog
from hpbroker.storage.checkpoint import read_checkpoint, write_checkpoint

from .helpers import crash, make_batch


def fill(plog, n, size=100, ts=1_000_000, records=1):
    out = []
    for i in range(n):
        b = make_batch(records, size, ts + i, fill=i)
        plog.append(b)
        out.append(bytes(b))
    return out


def test_append_assigns_offsets_and_patches_in_place(tmp_path):
    plog = PartitionLog(str(tmp_path / "t-0"))
    b = make_batch(3, 10)
    info = plog.append(b, leader_epoch=5)
    assert (info.base_offset, info.last_offset, info.log_append_time) == (0, 2, -1)
    info = plog.append(make_batch(2, 10), log_append_time=123_456)
    assert (info.base_offset, info.last_offset, info.log_append_time, info.max_timestamp) == (3, 4, 123_456, 123_456)
    h = rb.validate(b)
    assert h.base_offset == 0 and h.partition_leader_epoch == 5
    assert plog.log_end_offset == 5 and plog.high_watermark == 0
    raw = plog.read_bytes(3, 1000, upper_bound=5)
    h = rb.validate(bytearray(raw))
    assert h.log_append_time and h.max_timestamp == 123_456
    plog.close()


def test_read_bounds_and_kip74(tmp_path):
    plog = PartitionLog(str(tmp_path / "t-0"))
    data = fill(plog, 5, size=1000)
    size = len(data[0])
    plog.high_watermark = 3
    assert plog.read_bytes(0, 10**6) == b"".join(data[:3])  # default bound: high watermark
    assert plog.read_bytes(0, 10**6, upper_bound=5) == b"".join(data)
    assert plog.read_bytes(1, 2 * size + 5, upper_bound=5) == b"".join(data[1:3])
    # KIP-74: the first batch comes whole even when larger than max_bytes ...
    assert plog.read_bytes(2, 10, upper_bound=5) == data[2]
    # ... unless the caller already has data for an earlier partition
    assert plog.read(2, 10, upper_bound=5, min_one_batch=False).size == 0
    for empty in (plog.read(3, 100), plog.read(5, 100, upper_bound=5), plog.read(4, 100, upper_bound=4)):
        assert empty.size == 0 and empty.regions == []
    with pytest.raises(OffsetOutOfRange):
        plog.read(6, 100)
    with pytest.raises(OffsetOutOfRange):
        plog.read(-1, 100)
    plog.advance_log_start_offset(2)
    with pytest.raises(OffsetOutOfRange) as e:
        plog.read(1, 100)
    assert e.value.error_code == 1
    plog.close()


def test_read_starts_at_batch_holding_offset_and_spans_segments(tmp_path):
    plog = PartitionLog(str(tmp_path / "t-0"), LogConfig(segment_bytes=700, index_interval_bytes=0))
    data = []
    for i in range(10):
        b = make_batch(3, 100, fill=i)
        plog.append(b)
        data.append(bytes(b))
    assert len(plog.segments) > 2
    res = plog.read(4, 10**6, upper_bound=30)
    assert res.first_offset == 3 and len(res.regions) == len(plog.segments) - 1
    assert res.read_bytes() == b"".join(data[1:])
    assert all(r.fd >= 0 and r.length > 0 for r in res.regions)
    plog.close()


def test_sendfile_region(tmp_path):
    import socket

    plog = PartitionLog(str(tmp_path / "t-0"))
    data = fill(plog, 4, 3000)
    res = plog.read(0, 10**6, upper_bound=4)
    a, b = socket.socketpair()
    with a, b:
        sent = sum(r.sendfile(a.fileno()) for r in res.regions)
        got = b""
        while len(got) < sent:
            got += b.recv(65536)
    assert got == b"".join(data)
    plog.close()


def test_roll_by_size_and_by_time(tmp_path):
    plog = PartitionLog(str(tmp_path / "s-0"), LogConfig(segment_bytes=1000))
    fill(plog, 10, size=400)  # 470-byte batches: two a segment
    assert len(plog.segments) == 5 and all(s.size <= 1000 for s in plog.segments)
    assert [s.base_offset for s in plog.segments] == [0, 2, 4, 6, 8]
    assert os.path.basename(plog.segments[1].log_path) == "00000000000000000002.log"
    plog.close()
    plog = PartitionLog(str(tmp_path / "t-0"), LogConfig(segment_ms=1000))
    for ts in (0, 500, 1000, 1001, 1600, 2002):
        plog.append(make_batch(1, 10, ts))
    assert [s.base_offset for s in plog.segments] == [0, 3, 5]
    plog.close()


def test_sealed_segment_indexes_trimmed(tmp_path):
    plog = PartitionLog(
        str(tmp_path / "t-0"), LogConfig(segment_bytes=2000, index_interval_bytes=100, segment_index_bytes=4096)
    )
    fill(plog, 20, size=150)
    sealed, active = plog.segments[0], plog.active
    assert os.path.getsize(sealed.index.path) == 8 * sealed.index.entries > 0
    assert os.path.getsize(active.index.path) == 4096
    plog.close()
    assert os.path.getsize(active.index.path) == 8 * active.index.entries


def test_compact_only_logs_are_not_deleted_by_retention(tmp_path):
    # cleanup.policy=compact (cleanup_delete False): retention.ms/bytes do not apply; a policy
    # with "delete" in it (the default, or "compact,delete") turns them back on
    cfg = LogConfig(segment_bytes=1000, retention_bytes=0, retention_ms=0, cleanup_delete=False)
    plog = PartitionLog(str(tmp_path / "c-0"), cfg)
    fill(plog, 20, size=200)
    n = len(plog.segments)
    assert n > 2 and plog.delete_old_segments(10**13) == 0 and len(plog.segments) == n
    assert plog.log_start_offset == 0
    plog.config = LogConfig.from_topic_config({"cleanup.policy": "compact,delete"}, cfg)
    assert plog.config.cleanup_delete and plog.delete_old_segments(10**13) == n - 1
    plog.close()
    assert LogConfig.from_topic_config({"cleanup.policy": "compact"}).cleanup_delete is False
    assert LogConfig().to_topic_config()["cleanup.policy"] == "delete"
    assert cfg.to_topic_config()["cleanup.policy"] == "compact"


def test_retention_by_bytes_and_time_never_active(tmp_path):
    cfg = LogConfig(segment_bytes=1000, retention_bytes=2000, retention_ms=-1)
    plog = PartitionLog(str(tmp_path / "t-0"), cfg)
    fill(plog, 20, size=200)
    seg_size = plog.segments[0].size
    assert plog.delete_old_segments(0) > 0
    assert plog.size_bytes <= 2000 + seg_size
    assert plog.log_start_offset == plog.segments[0].base_offset
    assert plog.read(plog.log_start_offset, 10, upper_bound=20).size > 0
    plog.config = LogConfig(segment_bytes=1000, retention_bytes=0, retention_ms=-1)
    plog.delete_old_segments(0)
    assert len(plog.segments) == 1 and plog.log_start_offset == plog.active.base_offset
    plog.close()

    plog = PartitionLog(str(tmp_path / "u-0"), LogConfig(segment_bytes=1000, retention_ms=100))
    for i in range(12):
        plog.append(make_batch(1, 300, 1000 * i))  # two batches a segment
    assert [s.base_offset for s in plog.segments] == [0, 2, 4, 6, 8, 10]
    newest_sealed = plog.segments[-2]
    assert newest_sealed.max_timestamp == 9000
    assert plog.delete_old_segments(9000 + 100) == 4  # 100 ms old is not past 100 ms retention
    assert [s.base_offset for s in plog.segments] == [8, 10] and plog.log_start_offset == 8
    assert plog.delete_old_segments(10**12) == 1  # never the active segment
    assert [s.base_offset for s in plog.segments] == [10] and plog.log_start_offset == 10
    plog.close()


def test_truncate_to(tmp_path):
    plog = PartitionLog(str(tmp_path / "t-0"), LogConfig(segment_bytes=700))
    data = [bytes(b) for b in [make_batch(2, 100, fill=i) for i in range(8)]]
    for i in range(8):
        b = bytearray(data[i])
        plog.append(b)
        data[i] = bytes(b)
    plog.high_watermark = 16
    plog.truncate_to(7)  # offset 7 is inside the batch [6, 7]: that batch goes
    assert plog.log_end_offset == 6 and plog.high_watermark == 6
    assert plog.read_bytes(0, 10**6, upper_bound=6) == b"".join(data[:3])
    info = plog.append(make_batch(1, 5))
    assert info.base_offset == 6
    plog.truncate_to(2)
    assert plog.log_end_offset == 2
    plog.truncate_to(1)  # cuts into batch [0, 1]
    assert plog.log_end_offset == 0 and plog.size_bytes == 0 and len(plog.segments) == 1
    fill(plog, 4, records=2)
    plog.advance_log_start_offset(6)
    plog.truncate_to(3)  # below the log start offset: start over there (Kafka's truncateFullyAndStartAt)
    assert plog.log_start_offset == plog.log_end_offset == 3 and plog.segments[0].base_offset == 3
    with pytest.raises(ValueError):
        plog.truncate_to(-1)
    plog.close()


def test_advance_log_start_offset_persists(tmp_path):
    d = str(tmp_path / "t-0")
    plog = PartitionLog(d, LogConfig(segment_bytes=500))
    fill(plog, 10, size=200)
    assert plog.advance_log_start_offset(5)
    assert plog.segments[0].base_offset <= 5 < plog.segments[0].next_offset
    assert not plog.advance_log_start_offset(3)
    with pytest.raises(OffsetOutOfRange):
        plog.advance_log_start_offset(11)
    crash(plog)
    plog = PartitionLog(d, LogConfig(segment_bytes=500))
    assert plog.log_start_offset == 5 and plog.high_watermark == 5
    plog.close()


def test_flush_policy_and_checkpoint(tmp_path):
    d = str(tmp_path / "t-0")
    plog = PartitionLog(d, LogConfig(flush_messages=3))
    fill(plog, 2)
    assert plog.recovery_point == 0
    fill(plog, 1)
    assert plog.recovery_point == 3
    plog.config = LogConfig(flush_ms=1000)
    fill(plog, 2)
    assert not plog.maybe_flush(plog._last_flush_ms + 10)
    assert plog.maybe_flush(plog._last_flush_ms + 1000) and plog.recovery_point == 5
    plog.high_watermark = 4
    plog.close()
    assert read_checkpoint(os.path.join(d, "partition.checkpoint")) == {
        "log_start_offset": 0,
        "recovery_point": 5,
        "high_watermark": 4,
    }
    assert PartitionLog(d).high_watermark == 4


def test_checkpoint_atomic_and_garbage(tmp_path):
    p = str(tmp_path / "cp")
    write_checkpoint(p, {"a": 1, "b": -2})
    assert read_checkpoint(p) == {"a": 1, "b": -2} and not os.path.exists(p + ".tmp")
    with open(p, "w") as f:
        f.write("0\nbroken\n")
    assert read_checkpoint(p) == {}
    assert read_checkpoint(str(tmp_path / "missing")) == {}


def test_offset_for_timestamp(tmp_path):
    plog = PartitionLog(str(tmp_path / "t-0"), LogConfig(segment_bytes=600, index_interval_bytes=0))
    for ts in (100, 300, 200, 500, 500, 900):
        plog.append(make_batch(2, 100, ts))
    assert plog.offset_for_timestamp(50) == (0, 100)
    assert plog.offset_for_timestamp(250) == (2, 300)
    assert plog.offset_for_timestamp(301) == (6, 500)
    assert plog.offset_for_timestamp(901) is None
    plog.advance_log_start_offset(3)
    assert plog.offset_for_timestamp(50) == (3, 300)
    plog.close()


def test_offset_of_max_timestamp(tmp_path):
    """ListOffsets MAX_TIMESTAMP: the first record with the highest timestamp, across segments,
    inside a batch (record timestamps, not the batch's base), after a DeleteRecords."""
    plog = PartitionLog(str(tmp_path / "t-0"), LogConfig(segment_bytes=600, index_interval_bytes=0))
    assert plog.offset_of_max_timestamp() is None
    for ts in (100, 900, 200, 500):
        plog.append(make_batch(2, 100, ts))
    # records of one batch: 0 -> 7000, 1 -> 9000, 2 -> 9000 (the first of the two is the answer)
    plog.append(
        build_batch([(None, b"a", (), 7000), (None, b"b", (), 9000), (None, b"c", (), 9000)], compression=1)
    )  # gzip: the records are found inside the payload
    plog.append(make_batch(2, 100, 800))
    assert len(plog.segments) > 2
    assert plog.offset_of_max_timestamp() == (9, 9000)
    plog.close()

    tied = PartitionLog(str(tmp_path / "u-0"), LogConfig(segment_bytes=600, index_interval_bytes=0))
    for ts in (100, 900, 200, 900, 900):
        tied.append(make_batch(2, 100, ts))
    assert tied.offset_of_max_timestamp() == (2, 900)  # the first record holding it
    tied.advance_log_start_offset(3)  # the head of the first segment goes, and with it that record
    assert tied.offset_of_max_timestamp() == (3, 900)
    tied.advance_log_start_offset(4)
    assert tied.offset_of_max_timestamp() == (6, 900)
    tied.close()


def test_append_batches_follower_style(tmp_path):
    leader = PartitionLog(str(tmp_path / "l-0"))
    fill(leader, 5, records=2)
    raw = leader.read_bytes(0, 10**6, upper_bound=10)
    follower = PartitionLog(str(tmp_path / "f-0"), LogConfig(segment_bytes=300))
    assert follower.append_batches(bytearray(raw)) == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert follower.log_end_offset == 10 and follower.read_bytes(0, 10**6, upper_bound=10) == raw
    with pytest.raises(rb.InvalidRecordBatch):
        follower.append_batches(bytearray(raw))  # offsets already present
    leader.close()
    follower.close()


def test_iter_batch_headers(tmp_path):
    plog = PartitionLog(str(tmp_path / "t-0"), LogConfig(segment_bytes=500))
    for i in range(6):
        plog.append(make_batch(2, 100))
    hs = list(plog.iter_batch_headers(3))
    assert [h.base_offset for h in hs] == [2, 4, 6, 8, 10] and all(h.records_count == 2 for h in hs)
    plog.close()


def test_config_from_topic_config():
    c = LogConfig.from_topic_config(
        {"segment.bytes": "1024", "retention.ms": -1, "flush.messages": str((1 << 63) - 1), "unknown.thing": "x"}
    )
    assert c.segment_bytes == 1024 and c.retention_ms == -1 and c.flush_messages is None
    d = LogConfig.from_topic_config({"retention.bytes": 5}, defaults=c)
    assert d.segment_bytes == 1024 and d.retention_bytes == 5
    assert LogConfig.from_topic_config(d.to_topic_config()) == d
    with pytest.raises(ValueError):
        LogConfig(segment_bytes=1)
