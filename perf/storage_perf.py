"""Storage engine measurements: append, sendfile read path, index lookups, recovery.

    python perf/storage_perf.py [--dir /tmp] [--gib 1]

Writes to a temporary directory under --dir and removes it. Figures go to ../docs/performance.md
under "Building blocks". The page cache is warm for every figure (appends land in it; recovery
reads what was just written), which is the case a process restart sees.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import tempfile
import threading
import time

import numpy as np

from hpbroker import _speedups
from hpbroker.records.builder import build_batch
from hpbroker.storage import LogConfig, PartitionLog
from hpbroker.storage.index import OffsetIndex

MIB = 1 << 20
GIB = 1 << 30


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def memcpy_gbps(total: int = 4 * GIB) -> float:
    src = np.ones(MIB, dtype=np.uint8)
    dst = np.empty_like(src)
    t0 = time.perf_counter()
    for _ in range(total // MIB):
        np.copyto(dst, src)
    return total / (time.perf_counter() - t0) / 1e9


def raw_pwrite(directory: str, total: int, block: int) -> tuple[float, float]:
    """The floor: os.pwrite of the same bytes to one file, no broker work."""
    path = os.path.join(directory, "raw.bin")
    buf = os.urandom(block)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    c0, t0 = cpu(), time.perf_counter()
    for i in range(total // block):
        os.pwrite(fd, buf, i * block)
    wall, used = time.perf_counter() - t0, cpu() - c0
    os.close(fd)
    os.unlink(path)
    return total / wall / 1e9, used / (total / 1e9)


def bench_append(directory: str, total: int, batch_bytes: int) -> tuple[float, float, PartitionLog]:
    plog = PartitionLog(directory, LogConfig(segment_bytes=GIB, retention_ms=-1))
    buf = build_batch([os.urandom(64) * (batch_bytes // 64)])
    n = total // len(buf)
    c0, t0 = cpu(), time.perf_counter()
    for _ in range(n):
        plog.append(buf)  # the same buffer is re-patched in place each time
    wall, used = time.perf_counter() - t0, cpu() - c0
    gb = n * len(buf) / 1e9
    return gb / wall, used / gb, plog


def bench_sendfile(plog: PartitionLog, fetch_bytes: int) -> tuple[float, float]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    out = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    received = [0]

    def drain():
        buf = bytearray(4 * MIB)
        while True:
            k = conn.recv_into(buf)
            if not k:
                return
            received[0] += k

    th = threading.Thread(target=drain)
    th.start()
    leo = plog.log_end_offset
    c0, t0 = cpu(), time.perf_counter()
    offset, sent = 0, 0
    while offset < leo:
        res = plog.read(offset, fetch_bytes, upper_bound=leo)
        for r in res.regions:
            sent += r.sendfile(out.fileno())
        offset = last_offset_of(res, plog)
    out.shutdown(socket.SHUT_WR)
    th.join()
    wall, used = time.perf_counter() - t0, cpu() - c0
    out.close(), conn.close(), srv.close()
    assert received[0] == sent
    return sent / wall / 1e9, used / (sent / 1e9)


def last_offset_of(res, plog) -> int:
    """Next fetch offset after a result: read the header of its last batch (what a consumer does)."""
    r = res.regions[-1]
    from hpbroker.records import batch

    pos = r.position
    end = r.position + r.length
    last = None
    while pos < end:
        h = batch.read_header(os.pread(r.fd, 61, pos))
        last = h.last_offset
        pos += h.size
    return last + 1


def bench_index(directory: str) -> tuple[float, float, float]:
    idx = OffsetIndex(os.path.join(directory, "bench.index"), 0, 10 * MIB, preallocate=True)
    n = idx.max_entries
    for i in range(1, n + 1):
        idx.append(4 * i, 1024 * i)
    rng = random.Random(1)
    cold = [rng.randrange(0, 4 * n) for _ in range(50_000)]
    warm = [4 * n - rng.randrange(0, 4000) for _ in range(50_000)]
    res = []
    for keys in (cold, warm):
        t0 = time.perf_counter()
        for k in keys:
            idx.lookup(k)
        res.append((time.perf_counter() - t0) / len(keys) * 1e6)
    idx.close()
    return n, res[0], res[1]


def bench_read_call(plog: PartitionLog) -> float:
    leo = plog.log_end_offset
    rng = random.Random(2)
    keys = [rng.randrange(0, leo) for _ in range(20_000)]
    t0 = time.perf_counter()
    for k in keys:
        plog.read(k, MIB, upper_bound=leo)
    return (time.perf_counter() - t0) / len(keys) * 1e6


def bench_recovery(directory: str, batch_bytes: int) -> tuple[float, float, int, int]:
    cfg = LogConfig(segment_bytes=GIB, retention_ms=-1)
    plog = PartitionLog(directory, cfg)
    buf = build_batch([os.urandom(64) * (batch_bytes // 64)])
    while plog.size_bytes + len(buf) <= GIB:
        plog.append(buf)
    n = plog.log_end_offset
    size = plog.size_bytes
    plog.close()
    t0 = time.perf_counter()
    plog = PartitionLog(directory, cfg)
    clean = time.perf_counter() - t0
    assert plog.was_clean and plog.log_end_offset == n
    os.truncate(plog.segments[0].index.path, 0)  # unclean stop: preallocated index left behind
    for seg in plog._segments:
        seg.close()
    with open(os.path.join(directory, "partition.checkpoint"), "w") as f:
        f.write("0\nrecovery_point 0\n")
    t0 = time.perf_counter()
    plog = PartitionLog(directory, cfg)
    unclean = time.perf_counter() - t0
    assert not plog.was_clean and plog.log_end_offset == n
    plog.close()
    return clean, unclean, n, size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--gib", type=float, default=1.0)
    args = ap.parse_args()
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)  # e.g. a fresh tmpfs directory
    root = tempfile.mkdtemp(prefix="hpb-storage-perf-", dir=args.dir)
    impl = "pure" if _speedups.PURE else "compiled"
    try:
        print(f"records impl: {impl}")
        print(f"memcpy (numpy copyto, 1 MiB blocks): {memcpy_gbps():.1f} GB/s")
        raw_pwrite(root, int(args.gib * GIB), MIB)  # warm-up: the VM's first page cache fill is slow
        g, c = raw_pwrite(root, int(args.gib * GIB), MIB)
        print(f"raw os.pwrite 1 MiB blocks, {args.gib:g} GiB: {g:.2f} GB/s, {c:.3f} CPU-s/GB")
        gbps, cpu_gb, plog = bench_append(os.path.join(root, "a-0"), int(args.gib * GIB), MIB)
        print(f"append 1 MiB batches, {args.gib:g} GiB: {gbps:.2f} GB/s, {cpu_gb:.3f} CPU-s/GB")
        for fetch in (MIB, 16 * MIB):
            g, c = bench_sendfile(plog, fetch)
            print(
                f"read+sendfile to TCP loopback, max_bytes {fetch // MIB} MiB: {g:.2f} GB/s, "
                f"{c:.3f} CPU-s/GB (sender + draining receiver thread)"
            )
        plog.close()
        shutil.rmtree(os.path.join(root, "a-0"))
        gbps, cpu_gb, plog = bench_append(os.path.join(root, "s-0"), GIB // 4, 16 * 1024)
        print(
            f"append 16 KiB batches, 0.25 GiB: {gbps:.2f} GB/s, {cpu_gb:.3f} CPU-s/GB, "
            f"{gbps * 1e9 / (16 * 1024) / 1e3:.0f}k appends/s"
        )
        print(f"PartitionLog.read (index lookup + header walk, no I/O of records): {bench_read_call(plog):.1f} us")
        plog.close()
        shutil.rmtree(os.path.join(root, "s-0"))
        n, cold, warm = bench_index(root)
        print(f"OffsetIndex.lookup over {n} entries (10 MiB index): {cold:.2f} us random, {warm:.2f} us warm tail")
        for bb in (16 * 1024, MIB):
            clean, unclean, count, size = bench_recovery(os.path.join(root, f"r{bb}-0"), bb)
            shutil.rmtree(os.path.join(root, f"r{bb}-0"))
            print(
                f"open {size / GIB:.2f} GiB log of {count} batches of {bb // 1024} KiB: clean marker "
                f"{clean * 1e3:.1f} ms, unclean (CRC scan + index rebuild) {unclean * 1e3:.0f} ms"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
