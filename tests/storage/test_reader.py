"""PartitionLogReader in another process than the writer: never a partial batch below the bound."""

from __future__ import annotations

import os
import random
import subprocess
import sys

from hpbroker.records import batch as rb
from hpbroker.records.records import iter_batch_records
from hpbroker.storage import LogConfig, OffsetOutOfRange, PartitionLog, PartitionLogReader

from .helpers import make_batch

WRITER = os.path.join(os.path.dirname(__file__), "reader_writer.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def check_batches(raw: bytes, fetch: int, bound: int) -> int:
    end, found = rb.scan(raw)
    assert end == len(raw), "partial or corrupt batch returned"
    for (_, base, last, _, _), nxt in zip(found, found[1:] + [None]):
        assert last < bound
        if nxt is not None:
            assert nxt[1] == last + 1
    if found:
        assert found[0][1] <= fetch <= found[0][2] or found[0][1] > fetch
        first = raw[: found[0][4]]
        assert all(r.value == bytes([found[0][1] % 251]) * len(r.value) for r in iter_batch_records(first))
    return len(found)


def test_reader_process_never_sees_partial_batch_below_bound(tmp_path):
    directory = str(tmp_path / "t-0")
    env = dict(os.environ, PYTHONPATH=ROOT)
    child = subprocess.Popen(
        [sys.executable, WRITER, directory, "3"], stdout=subprocess.PIPE, env=env, text=True, bufsize=1
    )
    rng = random.Random(3)
    reader = None
    reads = batches = out_of_range = 0
    try:
        for line in child.stdout:
            lso, bound = map(int, line.split())
            if reader is None:
                reader = PartitionLogReader(directory)
            if rng.random() < 0.5:
                continue
            fetch = rng.choice([lso, bound - 1, rng.randint(lso, bound - 1), bound])
            try:
                res = reader.read(fetch, rng.choice([1, 1000, 20000, 200000]), upper_bound=bound)
            except OffsetOutOfRange:
                out_of_range += 1  # retention moved on since the bound was published
                continue
            batches += check_batches(res.read_bytes(), fetch, bound)
            reads += 1
    except BaseException:
        child.kill()
        raise
    finally:
        child.wait(timeout=30)
    assert child.returncode == 0
    assert reads > 50 and batches > reads // 2
    # after the writer's clean close the reader sees everything up to the final bound
    plog = PartitionLog(directory)
    lso, leo = plog.log_start_offset, plog.log_end_offset
    plog.close()
    raw = reader.read(lso, 1 << 30, upper_bound=leo).read_bytes()
    end, found = rb.scan(raw)
    assert end == len(raw) and found[-1][2] == leo - 1
    reader.close()


def test_deleted_segment_stays_readable_through_region(tmp_path):
    plog = PartitionLog(str(tmp_path / "t-0"), LogConfig(segment_bytes=500, retention_bytes=0, retention_ms=-1))
    data = [make_batch(1, 200, fill=i) for i in range(6)]
    for b in data:
        plog.append(b)
    res = plog.read(0, 100, upper_bound=plog.log_end_offset)
    reader = PartitionLogReader(plog.directory)
    res2 = reader.read(0, 100, upper_bound=plog.log_end_offset)
    path = plog.segments[0].log_path
    assert plog.delete_old_segments(0) >= 1
    assert not os.path.exists(path)
    assert res.read_bytes() == bytes(data[0]) == res2.read_bytes()
    fd = res.regions[0].fd
    del res
    # given the published log start offset, the reader reports the deleted range out of range
    for lso in (plog.log_start_offset, None):
        try:
            reader.refresh()
            reader.read(0, 100, upper_bound=plog.log_end_offset, log_start_offset=lso)
            raise AssertionError("expected OffsetOutOfRange")
        except OffsetOutOfRange:
            pass
    with_fd_closed = True
    try:
        os.fstat(fd)
        with_fd_closed = False
    except OSError:
        pass
    assert with_fd_closed, "descriptor of a deleted segment leaked after its last region was dropped"
    reader.close()
    plog.close()
