"""Crash safety: SIGKILLed writers, torn and corrupted files, lost or damaged indexes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from hpbroker.records import batch as rb
from hpbroker.records.records import iter_batch_records
from hpbroker.storage import LogConfig, PartitionLog
from hpbroker.storage.recovery import CLEAN_SHUTDOWN_FILE

from .crash_writer import CONFIG as CHILD_CONFIG
from .helpers import crash, make_batch

WRITER = os.path.join(os.path.dirname(__file__), "crash_writer.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def check_log_whole(plog: PartitionLog) -> list:
    """Every segment scans clean to its end; returns all (base, last) in order."""
    out = []
    for seg in plog.segments:
        with open(seg.log_path, "rb") as f:
            data = f.read()
        end, found = rb.scan(data)
        assert end == len(data) == seg.size, f"{seg.log_path} does not end at a batch boundary"
        out.extend((b[1], b[2]) for b in found)
    assert all(a[1] + 1 == b[0] for a, b in zip(out, out[1:]))
    return out


def test_sigkill_while_appending_keeps_every_acknowledged_batch(tmp_path):
    directory = str(tmp_path / "t-0")
    rng = random.Random(1234)
    acked: dict[int, tuple[int, int]] = {}
    env = dict(os.environ, PYTHONPATH=ROOT)
    for round_ in range(6):
        child = subprocess.Popen(
            [sys.executable, WRITER, directory, str(round_)], stdout=subprocess.PIPE, env=env, text=True, bufsize=1
        )
        first = child.stdout.readline()
        assert first.startswith("open ")
        opened_at = int(first.split()[1])
        # everything acknowledged before the previous kill must still be there
        assert opened_at >= max((b[0] + 1 for b in acked.values()), default=0)
        first_ack = child.stdout.readline()  # the writer is appending: kill it at a random moment
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        for line in [first_ack, *child.stdout]:  # acknowledged lines printed before the kill
            base, last, size = map(int, line.split())
            acked[base] = (last, size)
        child.wait()
        assert acked, "the writer acknowledged nothing"
    plog = PartitionLog(directory, CHILD_CONFIG)
    try:
        assert not plog.was_clean
        batches = check_log_whole(plog)
        on_disk = {b for b, _ in batches}
        for base, (last, size) in acked.items():
            assert base in on_disk
            raw = plog.read_bytes(base, 1, upper_bound=plog.log_end_offset)
            h = rb.validate(bytearray(raw))
            assert (h.base_offset, h.last_offset) == (base, last)
            recs = list(iter_batch_records(raw))
            assert all(r.value == bytes([base % 251]) * size for r in recs)
        assert plog.log_end_offset >= max(a[0] for a in acked.values()) + 1
    finally:
        plog.close()


def _build_log(directory, n=120, seed=0, config=None):
    rng = random.Random(seed)
    config = config or LogConfig(segment_bytes=4000, index_interval_bytes=300, segment_index_bytes=400)
    plog = PartitionLog(directory, config)
    expected = []
    for i in range(n):
        buf = make_batch(rng.randint(1, 3), rng.randint(0, 400), 1_000_000 + 10 * i, fill=i)
        info = plog.append(buf)
        expected.append((info.base_offset, info.last_offset, bytes(buf)))
    return plog, expected, config


@pytest.mark.parametrize("seed", range(12))
def test_truncated_or_garbage_segment_recovers_longest_valid_prefix(tmp_path, seed):
    rng = random.Random(seed)
    directory = str(tmp_path / "t-0")
    plog, expected, config = _build_log(directory, seed=seed)
    segs = [(s.base_offset, s.log_path, s.size) for s in plog.segments]
    crash(plog)  # nothing flushed: the whole log is past the recovery point
    base, path, size = rng.choice(segs)
    # the batches of that segment with their positions
    positions, pos = [], 0
    for b, last, data in expected:
        if b >= base and (b < next((s[0] for s in segs if s[0] > base), 1 << 62)):
            positions.append((pos, len(data), b))
            pos += len(data)
    cut = rng.randrange(0, size)
    if rng.random() < 0.5:
        os.truncate(path, cut)
    else:
        # garbage inside a CRC-covered or length byte (baseOffset and partitionLeaderEpoch are
        # outside the CRC, as in Kafka)
        while any(p <= cut < p + 8 or p + 12 <= cut < p + 16 for p, _, _ in positions):
            cut = rng.randrange(0, size)
        with open(path, "r+b") as f:
            f.seek(cut)
            old = f.read(1)
            f.seek(cut)
            f.write(bytes([old[0] ^ 0x5A]))
    # longest valid prefix: batches that end at or before the damage
    keep_until = next((b for p, ln, b in positions if p + ln > cut), None)
    plog = PartitionLog(directory, config)
    try:
        want = [e for e in expected if keep_until is None or e[0] < keep_until]
        assert plog.log_end_offset == (want[-1][1] + 1 if want else 0)
        got = check_log_whole(plog)
        assert got == [(b, l) for b, l, _ in want]
        for b, l, data in want[::7]:
            assert plog.read_bytes(b, 1, upper_bound=plog.log_end_offset) == data
        # appends continue from the cut
        info = plog.append(make_batch(1, 5))
        assert info.base_offset == plog.log_end_offset - 1
    finally:
        plog.close()


@pytest.mark.parametrize("damage", ["delete", "garbage", "short", "empty", "delete_time", "garbage_time"])
def test_damaged_index_is_rebuilt(tmp_path, damage):
    directory = str(tmp_path / "t-0")
    plog, expected, config = _build_log(directory, n=150)
    plog.close()
    seg_paths = sorted(p for p in os.listdir(directory) if p.endswith(".log"))
    victim = os.path.join(directory, seg_paths[len(seg_paths) // 2][:-4])
    rng = random.Random(7)
    if damage == "delete":
        os.unlink(victim + ".index")
    elif damage == "delete_time":
        os.unlink(victim + ".timeindex")
    elif damage in ("garbage", "garbage_time"):
        path = victim + (".index" if damage == "garbage" else ".timeindex")
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.write(bytes(rng.randrange(256) for _ in range(size)))
    elif damage == "short":
        size = os.path.getsize(victim + ".index")
        os.truncate(victim + ".index", size - 3)
    elif damage == "empty":
        os.truncate(victim + ".index", 0)
    plog = PartitionLog(directory, config)
    try:
        assert plog.was_clean
        for b, l, data in expected:
            assert plog.read_bytes(b, 1, upper_bound=plog.log_end_offset) == data
            mid = (b + l) // 2
            assert plog.read_bytes(mid, 1, upper_bound=plog.log_end_offset) == data
        for i in range(0, len(expected), 5):
            b, l, _ = expected[i]
            assert plog.offset_for_timestamp(1_000_000 + 10 * i) == (b, 1_000_000 + 10 * i)
        for seg in plog.segments:
            assert seg.index.sanity_check(seg.size)
    finally:
        plog.close()


def test_clean_marker_skips_scan_and_unclean_scans(tmp_path, monkeypatch):
    directory = str(tmp_path / "t-0")
    plog, expected, config = _build_log(directory, n=60)
    plog.close()
    assert os.path.exists(os.path.join(directory, CLEAN_SHUTDOWN_FILE))
    calls = []
    from hpbroker.storage import segment as segmod

    real = segmod.Segment.recover
    monkeypatch.setattr(
        segmod.Segment, "recover", lambda self, check_crc=True: calls.append(1) or real(self, check_crc)
    )
    plog = PartitionLog(directory, config)
    assert plog.was_clean and not calls
    assert not os.path.exists(os.path.join(directory, CLEAN_SHUTDOWN_FILE))
    plog.append(make_batch(1, 5))
    crash(plog)
    plog = PartitionLog(directory, config)
    assert not plog.was_clean
    # close() fsynced everything, so only the segment holding the recovery point onwards is scanned
    assert 1 <= len(calls) < len(plog.segments) + 1
    assert plog.log_end_offset == expected[-1][1] + 2
    plog.close()
