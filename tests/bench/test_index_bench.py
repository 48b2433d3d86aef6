"""Microbenchmark of the index entries a Produce adds (run by `make bench`): one offset index
and one time index entry, as a batch past index.interval.bytes adds them, into preallocated
mapped files (tmpfs when there is one)."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile

import pytest

from hpbroker.storage.index import OffsetIndex
from hpbroker.storage.timeindex import TimeIndex

pytestmark = pytest.mark.bench


@pytest.fixture
def indexes():
    tmp = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None, prefix="bench-index-")
    oi = OffsetIndex(os.path.join(tmp, "0.index"), 0, 10 << 20, preallocate=True)
    ti = TimeIndex(os.path.join(tmp, "0.timeindex"), 0, 10 << 20, preallocate=True)
    try:
        yield oi, ti
    finally:
        oi.close()
        ti.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_offset_and_time_entry_per_batch(benchmark, indexes):
    oi, ti = indexes
    counter = itertools.count(1)

    def add_pair():
        i = next(counter)
        oi.append(i * 10, i * 5000)
        ti.append(1_000_000 + i, i * 10)

    benchmark.pedantic(add_pair, rounds=20000, iterations=1, warmup_rounds=100)
    assert oi.entries == ti.entries == 20100
