"""Per-request cost: pipelined Produce requests from a minimal client, so the broker is the limit.

    .venv/bin/python perf/mp_requests.py --topologies 0/0,1/1,2/2,4/4,8/16 --connections 1,4

Real Kafka clients on a 2-core machine spend more CPU than the broker (mp_perf.py shows it), so
this client does almost nothing: each connection (a separate process) sends one pre-encoded
Produce v8 request (one batch of ``--records`` records of ``--size`` bytes, acks=1, partition =
connection number modulo ``--partitions``) over and over, ``--window`` requests in flight, and
only counts response frames. Reported: requests/s and MB/s over ``--seconds``, broker CPU-s
per GB and broker cores (CPU seconds / wall seconds of the whole broker process tree), median
of ``--repeat`` interleaved rounds. ``--event-loops asyncio,uvloop`` runs every cell on each
loop (``hpbroker --event-loop``), alternating, and adds a column.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import _common  # noqa: E402  (perf/ is on sys.path: this script runs as a file)

from hpbroker import protocol  # noqa: E402
from hpbroker.records.builder import build_batch  # noqa: E402
from hpbroker.testing import running_broker  # noqa: E402


def _client(bootstrap, partition, records, size, window, start, stop, out):
    batch = build_batch([b"x" * size] * records)
    body = {
        "transactional_id": None,
        "acks": 1,
        "timeout_ms": 5000,
        "topic_data": [{"name": "req", "partition_data": [{"index": partition, "records": batch}]}],
    }
    frame = protocol.encode_request(0, 8, 1, "perf", body)
    host, port = bootstrap.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start.wait()
    s.sendall(frame * window)
    buf = bytearray()
    done = 0
    while not stop.is_set():
        chunk = s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
        n = 0
        pos = 0
        while len(buf) - pos >= 4:
            (size_,) = struct.unpack_from(">i", buf, pos)
            if len(buf) - pos - 4 < size_:
                break
            pos += 4 + size_
            n += 1
        del buf[:pos]
        if n:
            done += n
            s.sendall(frame * n)
    out.put(done)
    s.close()


def measure(processors, handlers, connections, a, data_root, event_loop=None):
    from confluent_kafka.admin import AdminClient, NewTopic

    if data_root:
        os.makedirs(data_root, exist_ok=True)  # e.g. a fresh tmpfs directory
    data_dir = tempfile.mkdtemp(prefix="req-", dir=data_root)
    args = ["--processors", str(max(processors, 1)), "--handlers", str(handlers)]
    if event_loop:
        args += ["--event-loop", event_loop]
    try:
        with running_broker(subprocess=True, args=args, data_dir=data_dir) as b:
            admin = AdminClient({"bootstrap.servers": b.bootstrap})
            for f in admin.create_topics([NewTopic("req", a.partitions, 1)]).values():
                f.result(20)
            del admin
            ctx = mp.get_context("fork")
            start, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
            procs = [
                ctx.Process(
                    target=_client, args=(b.bootstrap, k % a.partitions, a.records, a.size, a.window, start, stop, out)
                )
                for k in range(connections)
            ]
            for p in procs:
                p.start()
            time.sleep(0.5)
            start.set()
            time.sleep(0.5)  # warm-up: counted requests below are per-second rates anyway
            cpu0, t0 = _common.tree_cpu_sample(b.process.pid), time.monotonic()
            time.sleep(a.seconds)
            cpu = _common.cpu_seconds_between(cpu0, _common.tree_cpu_sample(b.process.pid))
            elapsed = time.monotonic() - t0
            stop.set()
            total = sum(out.get(timeout=30) for _ in procs)
            for p in procs:
                p.join(10)
            wall = elapsed + 0.5  # requests were counted from start.set()
            req_s = total / wall
            mb_s = req_s * a.records * a.size / 1e6
            return {"req_s": req_s, "mb_s": mb_s, "cpu_gb": cpu / (mb_s * elapsed / 1e3), "cores": cpu / elapsed}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topologies", default="0/0,1/1,2/2,4/4,8/16")
    ap.add_argument("--connections", default="1,4")
    ap.add_argument("--records", type=int, default=1)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--data-root", default=None)
    ap.add_argument(
        "--event-loops",
        default=None,
        help="e.g. asyncio,uvloop: every cell runs on each loop (--event-loop), interleaved",
    )
    a = ap.parse_args()
    loops = a.event_loops.split(",") if a.event_loops else [None]
    cells = [(int(c), t, lp) for c in a.connections.split(",") for t in a.topologies.split(",") for lp in loops]
    runs = {c: [] for c in cells}
    for _ in range(a.repeat):
        for conns, topo, lp in cells:
            p, h = (int(x) for x in topo.split("/"))
            runs[(conns, topo, lp)].append(measure(p, h, conns, a, a.data_root, lp))
    col = " event loop |" if a.event_loops else ""
    print(f"| processors/handlers |{col} connections | requests/s | MB/s | broker CPU-s/GB | broker cores |")
    print("|---|" + ("---|" if a.event_loops else "") + "---|---|---|---|---|")
    for conns, topo, lp in cells:
        rs = runs[(conns, topo, lp)]
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        h = int(topo.split("/")[1])
        name = "in-process" if h == 0 else topo
        cell = f" {lp} |" if a.event_loops else ""
        print(
            f"| {name} |{cell} {conns} | {med['req_s']:.0f} | {med['mb_s']:.1f} | {med['cpu_gb']:.1f} | "
            f"{med['cores']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
