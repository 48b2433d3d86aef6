"""Microbenchmarks of a Fetch's storage read (run by `make bench`): the file regions of one
partition read, by the writer (PartitionLog.read, the in-process broker) and by a reader process
(PartitionLogReader.read, the multi-process topology's processors). Python walks batch headers
only, so what is timed is the per-read and per-segment cost: a consumer at the tail (one small
read at the end of the active segment), a 1 MiB read inside a segment, and a read that crosses
segment boundaries. The log lives on tmpfs when there is one."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from hpbroker.records.builder import build_batch
from hpbroker.storage import LogConfig, PartitionLog, PartitionLogReader

pytestmark = pytest.mark.bench

MiB = 1 << 20
_RECORDS_PER_BATCH = 10
_CONFIG = LogConfig(segment_bytes=4 * MiB, retention_ms=-1, retention_bytes=-1)


@pytest.fixture(scope="module")
def logs():
    """A log of ~12 MiB (3 full segments and an active one) of 16 KiB batches, its reader."""
    tmp = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None, prefix="bench-read-")
    log = PartitionLog(tmp, _CONFIG)
    one = bytes(build_batch([b"v" * 1600] * _RECORDS_PER_BATCH, base_timestamp=1))
    while log.log_end_offset < 13 * MiB // len(one) * _RECORDS_PER_BATCH:
        log.append(bytearray(one))
    log.high_watermark_to_log_end()
    # a directory that has not changed for a while, as between rolls: the reader trusts its
    # listing instead of listing again at each read that ends at the bound (reader.py)
    past = os.stat(tmp).st_mtime_ns - 60 * 10**9
    os.utime(tmp, ns=(past, past))
    reader = PartitionLogReader(tmp, _CONFIG)
    try:
        yield log, reader
    finally:
        reader.close()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _cases(log):
    leo = log.log_end_offset
    segments = log.segments
    return {
        "tail": (leo - _RECORDS_PER_BATCH, MiB),  # the last batch: a consumer keeping up
        "1mib_in_segment": (segments[1].base_offset + 50 * _RECORDS_PER_BATCH, MiB),
        "6mib_across_segments": (segments[1].base_offset + 50 * _RECORDS_PER_BATCH, 6 * MiB),
    }


@pytest.mark.parametrize("case", ["tail", "1mib_in_segment", "6mib_across_segments"])
def test_writer_read(benchmark, logs, case):
    log, _ = logs
    offset, max_bytes = _cases(log)[case]
    result = benchmark(log.read, offset, max_bytes)
    assert result.regions and result.size <= max_bytes


@pytest.mark.parametrize("case", ["tail", "1mib_in_segment", "6mib_across_segments"])
def test_reader_read(benchmark, logs, case):
    log, reader = logs
    offset, max_bytes = _cases(log)[case]
    bound = log.high_watermark

    def read():
        return reader.read(offset, max_bytes, upper_bound=bound, log_start_offset=log.log_start_offset)

    result = benchmark(read)
    assert result.regions and result.size <= max_bytes
    expected = log.read(offset, max_bytes)
    assert [(r.position, r.length) for r in result.regions] == [(r.position, r.length) for r in expected.regions]
