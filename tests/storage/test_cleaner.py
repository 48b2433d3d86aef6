"""The log cleaner on a PartitionLog: what a pass keeps, what it drops, and that files, offsets,
indexes and the cleaner's checkpoint stay right across reopen and a crash at any step."""

from __future__ import annotations

import os

import pytest

from hpbroker.records import batch
from hpbroker.records.builder import build_batch
from hpbroker.records.layout import GZIP, ZSTD
from hpbroker.records.records import iter_batch_records
from hpbroker.storage import PartitionLog, swap
from hpbroker.storage.cleaner import clean_log, dirtiness
from hpbroker.storage.config import LogConfig
from hpbroker.storage.reader import PartitionLogReader

NOW = 10_000_000_000
COMPACT = LogConfig(segment_bytes=600, cleanup_delete=False, cleanup_compact=True, index_interval_bytes=100)


def _append(plog, items, ts=NOW - 1000, **kw):
    """items: (key, value); one batch."""
    return plog.append(build_batch([(k, v, (), ts) for k, v in items], **kw))


def _records(source, start=0):
    out = []
    for region in (
        source.read(
            start, 1 << 30, upper_bound=source.log_end_offset if isinstance(source, PartitionLog) else None
        ).regions
        if isinstance(source, PartitionLog)
        else source
    ):
        data = region.read()
        pos = 0
        while pos < len(data):
            h = batch.read_header(data, pos)
            out += [(r.offset, r.key, r.value) for r in iter_batch_records(data[pos : pos + h.size])]
            pos += h.size
    return out


def _fill(plog, rounds=6, keys=5, **kw):
    """``rounds`` values of each of ``keys`` keys, one record per batch; segments roll by size."""
    for r in range(rounds):
        for k in range(keys):
            _append(plog, [(b"k%d" % k, b"v%d-%d" % (k, r))], **kw)


def test_a_pass_keeps_the_latest_value_of_each_key_and_every_offset(tmp_path):
    plog = PartitionLog(str(tmp_path / "p"), COMPACT)
    _fill(plog)
    before = _records(plog)
    leo, segments = plog.log_end_offset, len(plog.segments)
    assert segments > 3
    assert dirtiness(plog, NOW) == 1.0
    result = clean_log(plog, NOW)
    assert result is not None and result.records_dropped > 0
    after = _records(plog)
    active_base = plog.active.base_offset
    # below the active segment: one record per key, its latest there; offsets unchanged
    cleaned = [r for r in after if r[0] < active_base]
    latest = {}
    for off, k, v in before:
        if off < active_base:
            latest[k] = (off, k, v)
    assert cleaned == sorted(latest.values())  # the active segment is not looked at
    assert [r for r in after if r[0] >= active_base] == [r for r in before if r[0] >= active_base]
    assert plog.log_end_offset == leo and plog.log_start_offset == 0
    assert len(plog.segments) < segments
    assert plog.cleaner_offset == result.end_offset == active_base
    assert dirtiness(plog, NOW) is None  # nothing dirty left below the active segment
    # every key still reads its latest value
    assert {k: v for _, k, v in after} == {k: v for _, k, v in before}
    plog.close()
    again = PartitionLog(str(tmp_path / "p"), COMPACT)
    assert _records(again) == after and again.cleaner_offset == active_base
    # the indexes were built for the new files: reads from any offset land on the right batch
    for off, k, v in after:
        assert _records(again, off)[0] == (off, k, v)
    assert not os.path.exists(tmp_path / "p" / swap.WORK_DIR) and not os.path.exists(
        tmp_path / "p" / swap.COMMITTED_DIR
    )
    again.close()


def test_tombstones_stay_for_delete_retention_then_go(tmp_path):
    cfg = LogConfig(segment_bytes=400, cleanup_delete=False, cleanup_compact=True, delete_retention_ms=5000)
    plog = PartitionLog(str(tmp_path / "p"), cfg)
    _append(plog, [(b"a", b"1"), (b"b", b"1")], ts=NOW - 100_000)
    _append(plog, [(b"a", None)], ts=NOW - 100_000)  # a is deleted
    for i in range(12):
        _append(plog, [(b"c", b"%d" % i)], ts=NOW - 1000)
    clean_log(plog, NOW - 96_000)  # the tombstone is 4 s old: it stays, a's value goes
    got = [(k, v) for _, k, v in _records(plog)]
    assert (b"a", None) in got and (b"a", b"1") not in got and (b"b", b"1") in got
    plog.cleaner_offset = 0  # a later pass, once the tombstone is older than delete.retention.ms
    clean_log(plog, NOW)
    got = [(k, v) for _, k, v in _records(plog)]
    assert all(k != b"a" for k, _ in got) and (b"b", b"1") in got


@pytest.mark.parametrize("codec", [GZIP, ZSTD])
def test_compressed_batches_are_rebuilt_with_their_codec(tmp_path, codec):
    plog = PartitionLog(str(tmp_path / "p"), COMPACT)
    for r in range(4):
        _append(plog, [(b"k%d" % (i % 4), b"r%d-%d" % (r, i) * 20) for i in range(8)], compression=codec)
    plog.roll()
    _append(plog, [(b"x", b"tail")])
    clean_log(plog, NOW)
    data = b"".join(r.read() for r in plog.read(0, 1 << 30).regions)
    end, found = batch.scan(data, 0, -1, True)
    assert end == len(data)
    assert all(batch.read_header(data, pos).compression == codec for pos, *_ in found[:-1])
    got = {k: (off, v) for off, k, v in _records(plog)}
    assert got[b"k3"][1] == b"r3-7" * 20 and len(_records(plog)) == 5


def test_the_last_batch_of_a_producer_stays_whole(tmp_path):
    plog = PartitionLog(str(tmp_path / "p"), COMPACT)
    _append(plog, [(b"a", b"1")], producer_id=9, producer_epoch=0, base_sequence=0)
    _append(plog, [(b"a", b"2")], producer_id=9, producer_epoch=0, base_sequence=1)
    _append(plog, [(b"b", b"3")], producer_id=10, producer_epoch=0, base_sequence=0)
    _append(plog, [(b"a", b"4"), (b"b", b"5")])
    for i in range(10):
        _append(plog, [(b"z", b"%d" % i)])
    clean_log(plog, NOW)
    got = _records(plog)
    # producer 9's first batch is gone, its last one stays whole although superseded; same for 10
    assert (0, b"a", b"1") not in got and (1, b"a", b"2") in got and (2, b"b", b"3") in got
    assert (3, b"a", b"4") in got and (4, b"b", b"5") in got


def test_min_compaction_lag_and_dirty_ratio(tmp_path):
    cfg = LogConfig(segment_bytes=600, cleanup_delete=False, cleanup_compact=True, min_compaction_lag_ms=60_000)
    plog = PartitionLog(str(tmp_path / "p"), cfg)
    _fill(plog, ts=NOW - 1000)
    assert dirtiness(plog, NOW) is None and clean_log(plog, NOW) is None  # too young
    assert dirtiness(plog, NOW + 120_000) == 1.0
    assert clean_log(plog, NOW + 120_000) is not None
    # a little more dirt than clean bytes x ratio is needed for the next pass
    plog.config = LogConfig(
        segment_bytes=600, cleanup_delete=False, cleanup_compact=True, min_cleanable_dirty_ratio=0.99
    )
    _fill(plog, rounds=1)
    assert dirtiness(plog, NOW) is None
    plog.config = LogConfig(
        segment_bytes=600,
        cleanup_delete=False,
        cleanup_compact=True,
        min_cleanable_dirty_ratio=0.99,
        max_compaction_lag_ms=1,
    )
    assert dirtiness(plog, NOW) is not None  # past max.compaction.lag.ms: due anyway


def _crash_after(monkeypatch, where):
    """Make the pass stop dead at ``where`` ("commit": before the swap is committed;
    "complete": after committing, before any file moved)."""

    class Stop(Exception):
        pass

    real_commit = swap.commit
    if where == "commit":
        monkeypatch.setattr(swap, "commit", lambda *a: (_ for _ in ()).throw(Stop()))
    else:

        def commit_then_stop(*a):
            real_commit(*a)
            raise Stop()

        monkeypatch.setattr(swap, "commit", commit_then_stop)
    return Stop


@pytest.mark.parametrize("where", ["commit", "complete"])
def test_a_pass_cut_short_is_dropped_or_finished_on_open(tmp_path, monkeypatch, where):
    plog = PartitionLog(str(tmp_path / "p"), COMPACT)
    _fill(plog)
    before = _records(plog)
    stop = _crash_after(monkeypatch, where)
    with pytest.raises(stop):
        clean_log(plog, NOW)
    monkeypatch.undo()
    for seg in plog._segments:  # the process dies here
        seg.close()
    plog._closed = True
    again = PartitionLog(str(tmp_path / "p"), COMPACT)
    got = _records(again)
    if where == "commit":
        assert got == before  # nothing committed: the old segments are the log
    else:
        assert {k: v for _, k, v in got} == {k: v for _, k, v in before} and len(got) < len(before)
    assert sorted(os.listdir(tmp_path / "p")) == sorted(
        n for n in os.listdir(tmp_path / "p") if n not in (swap.WORK_DIR, swap.COMMITTED_DIR)
    )
    assert again.log_end_offset == len(before)
    again.close()


def test_a_reader_in_another_process_sees_the_cleaned_files_after_reset(tmp_path):
    plog = PartitionLog(str(tmp_path / "p"), COMPACT)
    _fill(plog)
    plog.flush()
    reader = PartitionLogReader(str(tmp_path / "p"), COMPACT)
    held = reader.read(0, 1 << 30, upper_bound=plog.log_end_offset).regions
    before = _records(held)
    clean_log(plog, NOW)
    # regions handed out before the pass still read the old bytes; after reset (what the
    # partition table's rewrite counter makes a processor do) the reader reads the new files
    assert _records(held) == before
    reader.reset()
    assert _records(reader.read(0, 1 << 30, upper_bound=plog.log_end_offset).regions) == _records(plog)
    reader.close()
    plog.close()


def test_nothing_to_do_when_the_log_start_passed_the_dirty_part(tmp_path):
    plog = PartitionLog(str(tmp_path / "p"), COMPACT)
    _fill(plog, rounds=2)
    plog.advance_log_start_offset(plog.segments[-2].base_offset + 1)  # into the last sealed one
    assert dirtiness(plog, NOW) is None and clean_log(plog, NOW) is None
    plog.close()
