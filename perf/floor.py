"""The CPU-cost floor of moving bytes through a broker on this machine.

    python perf/floor.py --gb 2 --dir /path/on/the/broker/data/filesystem

in:  a bare loop that only receives bytes from a local TCP socket and appends them to a file
     (what a broker must at least do for produced data);
out: a bare loop that only os.sendfile's a file to a local TCP socket (what it must at least
     do to serve a fetch).
The measured loop runs in a child process of its own and reports its own CPU time
(resource.getrusage of that process); the peer on the other end of the socket, which generates
or discards the bytes, is a separate process, so its cost is not counted. The result is GB/s
and CPU-seconds per GB of the measured side; a broker's CPU per GB is judged against it.
The file is written and read through the page cache, as a broker's segments are; put --dir
on the filesystem the broker's data directory uses.
"""

from __future__ import annotations

import argparse
import fcntl
import mmap
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import time

import _common

CHUNK = 1 << 20  # receive buffer and generator block: 1 MiB, a typical large fetch/produce
MMAP_WINDOW = 64 << 20  # --mmap: how much of the file is extended and mapped at a time


def _listen() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    return server, server.getsockname()[1]


# --- in: receive and append ----------------------------------------------------------------


def _generate(port: int, total: int, results) -> None:
    """Peer of the 'in' loop: sends ``total`` bytes as fast as it can."""
    block = os.urandom(CHUNK)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sent = 0
        while sent < total:
            n = min(CHUNK, total - sent)
            sock.sendall(block[:n] if n < CHUNK else block)
            sent += n
    results.put(sent)


def _receive_and_append(path: str, ports, results) -> None:
    server, port = _listen()
    ports.put(port)
    conn, _ = server.accept()
    server.close()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
    cpu0, t0 = _common.own_cpu_seconds(), time.perf_counter()
    total = 0
    while True:
        n = conn.recv_into(buf)
        if not n:
            break
        os.write(fd, view[:n])
        total += n
    elapsed, cpu = time.perf_counter() - t0, _common.own_cpu_seconds() - cpu0
    os.close(fd)
    conn.close()
    results.put((total, elapsed, cpu))


def _splice_and_append(path: str, ports, results) -> None:
    """The 'in' loop with splice(2) instead of recv + write: socket -> pipe -> file, no copy
    through user space. Measured (``--splice``) to see whether a broker could receive records
    into the page cache without the recv copy."""
    server, port = _listen()
    ports.put(port)
    conn, _ = server.accept()
    server.close()
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, CHUNK)
    except OSError:  # above /proc/sys/fs/pipe-max-size: keep the default pipe size
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    cpu0, t0 = _common.own_cpu_seconds(), time.perf_counter()
    total = 0
    while True:
        n = os.splice(conn.fileno(), write_end, CHUNK)
        if not n:
            break
        moved = 0
        while moved < n:
            moved += os.splice(read_end, fd, n - moved, offset_dst=total + moved)
        total += n
    elapsed, cpu = time.perf_counter() - t0, _common.own_cpu_seconds() - cpu0
    for f in (fd, read_end, write_end):
        os.close(f)
    conn.close()
    results.put((total, elapsed, cpu))


def _receive_into_mapping(path: str, ports, results) -> None:
    """The 'in' loop receiving straight into the file's pages: the file is extended and mapped
    ``MMAP_WINDOW`` at a time and ``recv_into`` writes into the mapping, so the kernel's one copy
    lands in the page cache and no write(2) copies it again. Measured (``--mmap``) to see
    whether a broker could receive records into its segment with one copy instead of two: each
    new page is then faulted in and allocated by the filesystem on its first write, which may
    cost more than the copy it saves."""
    server, port = _listen()
    ports.put(port)
    conn, _ = server.accept()
    server.close()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    cpu0, t0 = _common.own_cpu_seconds(), time.perf_counter()
    total, pos = 0, MMAP_WINDOW
    while pos == MMAP_WINDOW:  # a window filled to its end: map the next one
        os.ftruncate(fd, total + MMAP_WINDOW)
        with mmap.mmap(fd, MMAP_WINDOW, offset=total) as window:
            view, pos = memoryview(window), 0
            while pos < MMAP_WINDOW:
                n = conn.recv_into(view[pos : pos + CHUNK])
                if not n:
                    break
                pos += n
            view.release()
        total += pos
    os.ftruncate(fd, total)  # the file holds exactly what was received
    elapsed, cpu = time.perf_counter() - t0, _common.own_cpu_seconds() - cpu0
    os.close(fd)
    conn.close()
    results.put((total, elapsed, cpu))


# --- out: sendfile -------------------------------------------------------------------------


def _discard(port: int, results) -> None:
    """Peer of the 'out' loop: reads and drops everything."""
    buf = bytearray(CHUNK)
    total = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        while True:
            n = sock.recv_into(buf)
            if not n:
                break
            total += n
    results.put(total)


def _sendfile(path: str, total: int, ports, results) -> None:
    server, port = _listen()
    ports.put(port)
    conn, _ = server.accept()
    server.close()
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    cpu0, t0 = _common.own_cpu_seconds(), time.perf_counter()
    sent = 0
    while sent < total:
        # Send the file over and over from its start until ``total`` bytes have gone out.
        offset = sent % size
        sent += os.sendfile(conn.fileno(), fd, offset, min(size - offset, total - sent))
    elapsed, cpu = time.perf_counter() - t0, _common.own_cpu_seconds() - cpu0
    os.close(fd)
    conn.close()
    results.put((sent, elapsed, cpu))


def _run_pair(measured, measured_args, peer, peer_args, timeout: float):
    """Run the measured loop and its peer, each in a fresh process; return the measured
    loop's (bytes, seconds, cpu_seconds). Spawned, not forked: the caller (compare.py) may
    already run librdkafka threads, and forking a threaded process is unsafe."""
    ctx = mp.get_context("spawn")
    ports, results, peer_results = ctx.Queue(), ctx.Queue(), ctx.Queue()
    loop = ctx.Process(target=measured, args=(*measured_args, ports, results))
    loop.start()
    procs = [loop]
    try:
        port = _common.gather(ports, procs, 1, 30)[0]
        procs.append(ctx.Process(target=peer, args=(port, *peer_args, peer_results)))
        procs[-1].start()
        return _common.gather(results, procs, 1, timeout)[0]
    finally:
        _common.stop_processes(procs)


def _figures(total: int, elapsed: float, cpu: float) -> dict:
    gb = total / 1e9
    return {
        "bytes": total,
        "seconds": round(elapsed, 4),
        "cpu_seconds": round(cpu, 4),
        "gb_per_s": round(gb / elapsed, 3),
        "cpu_s_per_gb": round(cpu / gb, 4),
    }


IN_LOOPS = {"write": _receive_and_append, "splice": _splice_and_append, "mmap": _receive_into_mapping}


def measure_in(total: int, directory: str, timeout: float = 600, how: str = "write") -> dict:
    """The 'in' loop, receiving with ``how``: "write" (recv + write, the floor), "splice" or
    "mmap" (the alternatives measured against it)."""
    loop = IN_LOOPS[how]
    with tempfile.TemporaryDirectory(dir=directory, prefix="floor-in-") as tmp:
        path = os.path.join(tmp, "segment.log")
        return _figures(*_run_pair(loop, (path,), _generate, (total,), timeout))


def measure_out(total: int, directory: str, file_bytes: int, timeout: float = 600) -> dict:
    with tempfile.TemporaryDirectory(dir=directory, prefix="floor-out-") as tmp:
        path = os.path.join(tmp, "segment.log")
        block = os.urandom(CHUNK)
        with open(path, "wb") as f:  # written once; the measured sends read it from page cache
            for _ in range(max(1, file_bytes // CHUNK)):
                f.write(block)
        return _figures(*_run_pair(_sendfile, (path, total), _discard, (), timeout))


def measure(total: int, directory: str, file_bytes: int) -> dict:
    return {"in": measure_in(total, directory), "out": measure_out(total, directory, file_bytes)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gb", type=float, default=2.0, help="bytes moved per direction, in GB")
    parser.add_argument(
        "--file-mb", type=float, default=256, help="size of the file sendfile'd (repeatedly) in the 'out' loop"
    )
    parser.add_argument(
        "--dir",
        default=tempfile.gettempdir(),
        help="where the files go: the filesystem of the broker's data (default %(default)s)",
    )
    parser.add_argument(
        "--splice", action="store_true", help="also measure the 'in' loop with splice(2) (socket -> pipe -> file)"
    )
    parser.add_argument(
        "--mmap", action="store_true", help="also measure the 'in' loop receiving straight into the file, mapped"
    )
    parser.add_argument("--json-out", default=None)
    _common.add_page_reporting_args(parser)
    return parser


def summary_line(result: dict) -> str:
    i, o = result["in"], result["out"]
    return (
        f"in (recv + append): {i['gb_per_s']} GB/s, {i['cpu_s_per_gb']} CPU-s/GB; "
        f"out (sendfile): {o['gb_per_s']} GB/s, {o['cpu_s_per_gb']} CPU-s/GB"
    )


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    with _common.page_reporting_for(ns):
        return _main(ns)


def _main(ns) -> int:
    total = int(ns.gb * 1e9)
    print(f"[floor] moving {ns.gb} GB each way through {ns.dir}", file=sys.stderr, flush=True)
    result = {
        "params": {"gb": ns.gb, "file_mb": ns.file_mb, "dir": ns.dir},
        **measure(total, ns.dir, int(ns.file_mb * 1e6)),
    }
    variants = {"splice": "splice socket -> pipe -> file", "mmap": "recv into the mapped file"}
    for how in variants:
        if getattr(ns, how):
            result[f"in_{how}"] = measure_in(total, ns.dir, how=how)
    path = _common.write_json(result, ns.json_out, "floor")
    print(summary_line(result))
    for how, what in variants.items():
        if getattr(ns, how):
            v = result[f"in_{how}"]
            print(f"in ({what}): {v['gb_per_s']} GB/s, {v['cpu_s_per_gb']} CPU-s/GB")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
