"""Offset and time index: lookups (warm tail and cold head), truncation, trim and reopen."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hpbroker.storage.index import OffsetIndex
from hpbroker.storage.timeindex import TimeIndex


@pytest.fixture
def offset_index(tmp_path):
    idx = OffsetIndex(str(tmp_path / "00000000000000000100.index"), 100, 80_000, preallocate=True)
    for i in range(1, 5000):  # enough entries for a cold head and a warm tail
        idx.append(100 + 3 * i, 1000 * i)
    yield idx
    idx.close()


def test_offset_lookup_cold_and_warm(offset_index):
    idx = offset_index
    assert idx.lookup(99) == (100, 0) and idx.lookup(100) == (100, 0) and idx.lookup(102) == (100, 0)
    assert idx.lookup(103) == (103, 1000) and idx.lookup(105) == (103, 1000)
    for i in (1, 2, 17, 2500, 3975, 3976, 4998, 4999):  # both sides of the warm boundary
        assert idx.lookup(100 + 3 * i) == (100 + 3 * i, 1000 * i)
        assert idx.lookup(100 + 3 * i + 2) == (100 + 3 * i, 1000 * i)
    assert idx.lookup(10**12) == (100 + 3 * 4999, 4999_000)
    assert idx.lookup_position(1500) == (103, 1000)
    assert idx.lookup_position(999) == (100, 0)
    # the same answers as a plain binary search over the columns
    rel = idx.column("relative_offset")
    rng = np.random.default_rng(0)
    for q in rng.integers(90, 100 + 3 * 5100, 300):
        i = int(np.searchsorted(rel, q - 100, side="right")) - 1
        assert idx.lookup(int(q)) == ((100, 0) if i < 0 else (100 + int(rel[i]), int(idx.column("position")[i])))


def test_offset_index_rejects_out_of_order_entries(offset_index):
    with pytest.raises(ValueError):
        offset_index.append(100 + 3 * 4999, 10**8)
    with pytest.raises(ValueError):
        offset_index.append(10**6, 10)


def test_offset_index_truncate_trim_and_reopen(offset_index, tmp_path):
    idx = offset_index
    idx.truncate_to(100 + 3 * 10)  # drops the entry for offset 130 and later
    assert idx.entries == 9 and idx.last_entry() == (127, 9000)
    idx.trim()
    assert os.path.getsize(idx.path) == 9 * 8
    idx.close()
    again = OffsetIndex(idx.path, 100, 80_000)
    assert again.entries == 9 and again.sanity_check(10_000) and not again.sanity_check(9000)
    assert again.lookup(128) == (127, 9000)
    again.close()


def test_index_full(tmp_path):
    idx = OffsetIndex(str(tmp_path / "x.index"), 0, 24, preallocate=True)
    for i in range(3):
        assert not idx.is_full()
        idx.append(i + 1, 10 * (i + 1))
    assert idx.is_full()
    idx.close()


def test_time_index(tmp_path):
    t = TimeIndex(str(tmp_path / "00000000000000000000.timeindex"), 0, 1200, preallocate=True)
    t.append(1000, 0)
    t.append(1000, 5)  # not larger: ignored
    t.append(900, 6)
    t.append(2000, 10)
    t.append(3000, 20)
    assert t.entries == 3
    assert t.lookup(999) is None
    assert t.lookup(1000) == (1000, 0) and t.lookup(2500) == (2000, 10) and t.lookup(10**9) == (3000, 20)
    t.truncate_to(10)
    assert t.last_entry() == (1000, 0)
    assert t.sanity_check(5) and not t.sanity_check(0)
    t.close()


@pytest.mark.parametrize("cls", [OffsetIndex, TimeIndex])
def test_in_memory_columns_match_the_file_as_entries_are_added(tmp_path, cls):
    """Entries go to the mapped file and to the columns lookups search (grown as they fill up):
    both hold the same values after every append, across column growth."""
    idx = cls(str(tmp_path / "0.idx"), 0, 80_000, preallocate=True)
    try:
        for i in range(1, 300):
            idx.append(*((3 * i, 1000 * i) if cls is OffsetIndex else (10_000 + i, 3 * i)))
            if i in (1, 63, 64, 65, 128, 129, 299):
                n = idx.entries
                assert n == i
                for name in cls.DTYPE.names:
                    assert np.array_equal(idx.column(name)[:n], idx._arr[:n][name])
    finally:
        idx.close()
