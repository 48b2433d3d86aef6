"""Producer state snapshots: written at segment rolls and on close, loaded on start-up so only the
batch headers after them are replayed; the state is the one a full replay gives, and a snapshot
that no longer matches the log is not used."""

import os

import pytest

from hpbroker.records.builder import build_batch
from hpbroker.replication.partition import AppendError, Partition
from hpbroker.replication.producer_state import ProducerStateManager, snapshot_offsets
from hpbroker.storage import LogConfig, PartitionLog

PID = 42


def _batch(seq: int, records: int = 2, pid: int = PID, epoch: int = 0):
    return build_batch([b"v" * 50] * records, producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def _open(path, segment_bytes=1 << 20):
    return Partition("t", 0, PartitionLog(str(path), LogConfig(segment_bytes=segment_bytes)))


def _append(p, buf):
    return p.append_from_client(buf, max_message_bytes=1 << 20, log_append_time=False)


def _state(p):
    return {
        pid: (e.epoch, [(b.first_seq, b.last_seq, b.first_offset, b.last_offset) for b in e.batches])
        for pid, e in p.producer_state.producers.items()
    }


def _full_replay(p):
    m = ProducerStateManager()
    m.rebuild(p.log.iter_batch_headers(p.log.log_start_offset))
    return {
        pid: (e.epoch, [(b.first_seq, b.last_seq, b.first_offset, b.last_offset) for b in e.batches])
        for pid, e in m.producers.items()
    }


def _headers_replayed(monkeypatch):
    seen = []
    real = PartitionLog.iter_batch_headers

    def counting(self, start_offset=0):
        for h in real(self, start_offset):
            seen.append(h.base_offset)
            yield h

    monkeypatch.setattr(PartitionLog, "iter_batch_headers", counting)
    return seen


def test_close_writes_a_snapshot_and_a_restart_replays_nothing_before_it(tmp_path, monkeypatch):
    p = _open(tmp_path / "t-0")
    for i in range(40):
        _append(p, _batch(2 * i))
    _append(p, _batch(0, pid=7))
    expected = _state(p)
    p.write_producer_snapshot()
    p.log.close()
    assert snapshot_offsets(str(tmp_path / "t-0")) == [82]

    seen = _headers_replayed(monkeypatch)
    q = _open(tmp_path / "t-0")
    assert seen == [] and _state(q) == expected
    # a retry of the last batch is still a duplicate, a gap is still out of order
    r = _append(q, _batch(78))
    assert r.duplicate and (r.base_offset, r.last_offset) == (78, 79)
    with pytest.raises(AppendError):
        _append(q, _batch(100))
    q.log.close()


def test_a_roll_writes_a_snapshot_and_a_crash_replays_only_the_active_segment(tmp_path, monkeypatch):
    p = _open(tmp_path / "t-0", segment_bytes=2000)  # ~10 batches a segment
    for i in range(55):
        _append(p, _batch(2 * i))
    offsets = snapshot_offsets(str(tmp_path / "t-0"))
    assert len(offsets) == 2 and offsets[-1] <= p.log.log_end_offset  # the newest two are kept
    expected = _state(p)
    p.log.close()  # no snapshot at close: as if the process had been killed

    seen = _headers_replayed(monkeypatch)
    q = _open(tmp_path / "t-0", segment_bytes=2000)
    replayed = list(seen)
    assert replayed and min(replayed) == offsets[-1] and len(replayed) < 20
    assert _state(q) == expected == _full_replay(q)
    q.log.close()


def test_a_snapshot_above_the_log_end_or_unreadable_is_not_used(tmp_path, monkeypatch):
    p = _open(tmp_path / "t-0")
    for i in range(10):
        _append(p, _batch(2 * i))
    p.write_producer_snapshot()  # at 20
    expected = _state(p)
    p.log.close()
    d = str(tmp_path / "t-0")
    with open(os.path.join(d, f"{99:020d}.snapshot"), "wb") as f:  # a tail that was truncated away
        f.write(ProducerStateManager().to_bytes(99))
    with open(os.path.join(d, f"{15:020d}.snapshot"), "wb") as f:
        f.write(b"{not json")

    seen = _headers_replayed(monkeypatch)
    q = _open(tmp_path / "t-0")
    assert _state(q) == expected and seen == []  # the good one at 20 was taken
    assert 99 not in snapshot_offsets(d)
    q.log.close()

    os.unlink(os.path.join(d, f"{20:020d}.snapshot"))
    seen.clear()
    r = _open(tmp_path / "t-0")  # only the unreadable one is left: everything is replayed
    assert _state(r) == expected and seen[0] == 0
    r.log.close()


def test_snapshot_bytes_round_trip():
    m = ProducerStateManager()
    for i in range(7):  # more than the five kept per producer
        m.update(5, 3, 10 * i, 10 * i + 9, 100 * i, 100 * i + 9, -1)
    m.update(6, 0, 0, 0, 1000, 1000, 1234)
    offset, back = ProducerStateManager.from_bytes(m.to_bytes(1001))
    assert offset == 1001
    assert {pid: (e.epoch, list(e.batches)) for pid, e in back.producers.items()} == {
        pid: (e.epoch, list(e.batches)) for pid, e in m.producers.items()
    }
    assert len(back.producers[5].batches) == 5 and back.producers[5].batches.maxlen == 5
    for bad in (b"", b"[]", b'{"version": 2, "offset": 1, "producers": []}', b'{"version": 1}'):
        with pytest.raises(ValueError):
            ProducerStateManager.from_bytes(bad)


def test_last_timestamp_is_kept_and_older_snapshots_still_load(tmp_path):
    """DescribeProducers reports the largest timestamp of each producer's last batch: it survives
    a snapshot and a replay of headers, and a snapshot written before it was kept loads as -1."""
    p = _open(tmp_path / "t-0")
    _append(
        p,
        build_batch(
            [(None, b"a", (), 7000), (None, b"b", (), 9000)], producer_id=PID, producer_epoch=0, base_sequence=0
        ),
    )
    _append(p, build_batch([(None, b"c", (), 8000)], producer_id=PID, producer_epoch=0, base_sequence=2))
    assert p.producer_state.producers[PID].last_timestamp == 8000  # the last batch's, not the largest ever
    at, loaded = ProducerStateManager.from_bytes(p.producer_state.to_bytes(3))
    assert at == 3 and loaded.producers[PID].last_timestamp == 8000
    replayed = ProducerStateManager()
    replayed.rebuild(p.log.iter_batch_headers(0))
    assert replayed.producers[PID].last_timestamp == 8000
    old = b'{"version": 1, "offset": 3, "producers": [[42, 0, [[0, 1, 0, 1, -1], [2, 2, 2, 2, -1]]]]}'
    _, state = ProducerStateManager.from_bytes(old)
    assert state.producers[PID].last_timestamp == -1 and state.producers[PID].last_seq == 2
    p.log.close()
