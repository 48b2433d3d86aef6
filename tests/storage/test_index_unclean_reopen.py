"""An index left untrimmed by an unclean stop is as long as its preallocation: reopening it
copies only the entries written, never the zero tail (which would cost a restarted handler
~20 MiB per partition: every page of the tail faulted in, columns of ~1.3 million entries)."""

from __future__ import annotations

import os

import numpy as np

from hpbroker.storage import LogConfig, PartitionLog
from hpbroker.storage.index import OffsetIndex
from hpbroker.storage.timeindex import TimeIndex

from .helpers import crash, make_batch

PREALLOCATED = 10 * 1024 * 1024  # segment.index.bytes' default


def _reopened(cls, path, base=0):
    return cls(str(path), base, PREALLOCATED, preallocate=True)


def test_offset_index_reopened_untrimmed_keeps_its_entries_only(tmp_path):
    path = tmp_path / "00000000000000000000.index"
    idx = _reopened(OffsetIndex, path)
    for i in range(1, 301):
        idx.append(10 * i, 4096 * i)
    idx.close()  # no trim: the file keeps its preallocated length, as after SIGKILL
    assert os.path.getsize(path) == PREALLOCATED
    idx = _reopened(OffsetIndex, path)
    try:
        assert len(idx) == 300
        assert max(len(c) for c in idx._cols.values()) < 1000  # not 1.3 million
        assert idx.lookup(2005) == (2000, 4096 * 200) and idx.last_entry() == (3000, 4096 * 300)
        idx.append(3010, 4096 * 301)  # appends go on after the last real entry
        idx.trim()
        assert os.path.getsize(path) == 301 * 8
    finally:
        idx.close()


def test_time_index_reopened_untrimmed_keeps_its_entries_only(tmp_path):
    path = tmp_path / "00000000000000000000.timeindex"
    idx = _reopened(TimeIndex, path)
    for i in range(1, 301):
        idx.append(1_700_000_000_000 + i, 10 * i)
    idx.close()
    idx = _reopened(TimeIndex, path)
    try:
        assert len(idx) == 300 and max(len(c) for c in idx._cols.values()) < 1000
        assert idx.last_entry() == (1_700_000_000_300, 3000)
    finally:
        idx.close()


def test_reopened_empty_or_full_indexes(tmp_path):
    empty = tmp_path / "00000000000000000000.index"
    _reopened(OffsetIndex, empty).close()
    idx = _reopened(OffsetIndex, empty)
    assert len(idx) == 0
    idx.close()
    full = tmp_path / "00000000000000000001.index"
    idx = OffsetIndex(str(full), 1, 80, preallocate=True)  # room for 10 entries
    for i in range(1, 11):
        idx.append(1 + i, 100 * i)
    idx.close()
    idx = OffsetIndex(str(full), 1, 80, preallocate=True)
    assert len(idx) == 10 and idx.is_full()
    idx.close()


def test_partition_log_after_unclean_stop_loads_no_zero_tail(tmp_path):
    cfg = LogConfig(index_interval_bytes=1)
    plog = PartitionLog(str(tmp_path / "t-0"), cfg)
    for _ in range(50):
        plog.append(make_batch(3, 100))
    crash(plog)
    plog = PartitionLog(str(tmp_path / "t-0"), cfg)
    try:
        seg = plog.active
        assert len(seg.index) == 49 and max(len(c) for c in seg.index._cols.values()) < 1000
        assert max(len(c) for c in seg.time_index._cols.values()) < 1000
        assert plog.log_end_offset == 150
        assert np.all(np.diff(seg.index.column("position").astype(np.int64)) > 0)
        plog.append(make_batch(1, 100))
        assert plog.read(150, 10_000).first_offset == 150
    finally:
        plog.close()
