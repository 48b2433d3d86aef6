"""The two costs a request pays for crossing from a processor to handlers (multi-process mode):
waking the other process, and cutting a Produce into sub-requests and joining the answers.

    python perf/hop_cost.py [--round-trips 20000] [--requests 3000]

- wake-up: two processes ping-pong through a pair of eventfds, each waiting in epoll as the
  broker's loops do; CPU (getrusage) and wall time per round trip, with the two processes free
  to run on different cores and then both pinned to one core (sched_setaffinity). A split
  Produce wakes each owning handler once and is woken by each answer: two round trips for two
  handlers.
- split and join: a Produce v8 of 6 partitions x 250 records of 100 B (compare.py's 100 B
  workload) over 2 handlers, both ways a processor can take: on bytes (server/multiproc/produce_split.py,
  what it does for Produce v3-8) and through the codecs (server/multiproc/routing.py: decode, cut into
  per-owner sub-requests and encode them, then decode the two partial answers, join and encode
  the response; what it does for anything produce_split declines). Warm caches: a lower bound.

Figures in ../docs/performance.md ("What limits them").
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common  # noqa: E402

from hpbroker import protocol  # noqa: E402
from hpbroker.records.builder import build_batch  # noqa: E402
from hpbroker.server.multiproc import produce_split  # noqa: E402
from hpbroker.server.multiproc.routing import join_responses, partition_order, route_for, split_by_owner  # noqa: E402


def wake_round_trips(n: int, one_core: bool) -> dict:
    """Parent and child ping-pong ``n`` times over eventfds; CPU per round trip of each."""
    ping, pong = os.eventfd(0), os.eventfd(0)
    report_r, report_w = os.pipe()
    cores = sorted(os.sched_getaffinity(0))
    pid = os.fork()
    if pid == 0:
        try:
            if one_core:
                os.sched_setaffinity(0, {cores[0]})
            ep = select.epoll()
            ep.register(ping, select.EPOLLIN)
            c0 = _common.own_cpu_seconds()
            for _ in range(n):
                ep.poll()
                os.eventfd_read(ping)
                os.eventfd_write(pong, 1)
            os.write(report_w, repr(_common.own_cpu_seconds() - c0).encode())
        finally:
            os._exit(0)
    try:
        if one_core:
            os.sched_setaffinity(0, {cores[0]})
        ep = select.epoll()
        ep.register(pong, select.EPOLLIN)
        t0, c0 = time.perf_counter(), _common.own_cpu_seconds()
        for _ in range(n):
            os.eventfd_write(ping, 1)
            ep.poll()
            os.eventfd_read(pong)
        wall, cpu = time.perf_counter() - t0, _common.own_cpu_seconds() - c0
        os.waitpid(pid, 0)
        child_cpu = float(os.read(report_r, 64))
    finally:
        os.sched_setaffinity(0, cores)
        for fd in (ping, pong, report_r, report_w):
            os.close(fd)
    return {
        "one_core": one_core,
        "wall_us": round(1e6 * wall / n, 1),
        "cpu_us_waker": round(1e6 * cpu / n, 1),
        "cpu_us_woken": round(1e6 * child_cpu / n, 1),
    }


def split_and_join(n: int) -> dict:
    batches = [bytes(build_batch([b"x" * 100] * 250)) for _ in range(6)]
    request = {
        "transactional_id": None,
        "acks": 1,
        "timeout_ms": 1000,
        "topic_data": [{"name": "p100", "partition_data": [{"index": i, "records": b} for i, b in enumerate(batches)]}],
    }
    frame = memoryview(b"".join(protocol.encode_request_parts(0, 8, 7, "perf", request)))
    split = route_for(0).split
    _, offset = protocol.decode_request_header(frame)
    t0 = time.perf_counter()
    for _ in range(n):
        decoded = protocol.decode_request(0, 8, frame, offset)
        order = partition_order(decoded, split)
        subs = split_by_owner(decoded, split, 2)
        for sub in subs.values():
            protocol.encode_request_parts(0, 8, 7, "perf", sub)
    t1 = time.perf_counter()

    def answer(sub):
        return {
            "throttle_time_ms": 0,
            "responses": [
                {
                    "name": t["name"],
                    "partition_responses": [
                        {
                            "index": p["index"],
                            "error_code": 0,
                            "base_offset": 1000,
                            "log_append_time_ms": -1,
                            "log_start_offset": 0,
                            "record_errors": [],
                            "error_message": None,
                        }
                        for p in t["partition_data"]
                    ],
                }
                for t in sub["topic_data"]
            ],
        }

    frames = [b"".join(protocol.encode_response_parts(0, 8, 7, answer(sub))) for sub in subs.values()]
    t2 = time.perf_counter()
    for _ in range(n):
        bodies = []
        for f in frames:
            _, at = protocol.decode_response_header(0, 8, f, 4)
            bodies.append(protocol.decode_response(0, 8, f, at))
        protocol.encode_response_parts(0, 8, 7, join_responses(order, split, bodies))
    t3 = time.perf_counter()
    for _ in range(n):
        layout = produce_split.scan(frame, offset)
        produce_split.owners(layout, 2)
        border = produce_split.order_of(layout)
        produce_split.split(frame, offset, layout, 2)
    t4 = time.perf_counter()
    for _ in range(n):
        produce_split.join(border, 8, 7, frames)
    t5 = time.perf_counter()
    return {
        "split_us": round(1e6 * (t1 - t0) / n, 1),
        "join_us": round(1e6 * (t3 - t2) / n, 1),
        "split_bytes_us": round(1e6 * (t4 - t3) / n, 1),
        "join_bytes_us": round(1e6 * (t5 - t4) / n, 1),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--round-trips", type=int, default=20_000)
    p.add_argument("--requests", type=int, default=3_000)
    p.add_argument("--json-out", type=Path, default=None)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    wakes = [wake_round_trips(args.round_trips, one_core) for one_core in (False, True)]
    for w in wakes:
        where = "one core" if w["one_core"] else "free to use both cores"
        print(
            f"eventfd round trip, {where}: wall {w['wall_us']} us, CPU {w['cpu_us_waker']} us (waker) + "
            f"{w['cpu_us_woken']} us (woken)"
        )
    sj = split_and_join(args.requests)
    print(
        f"Produce of 6 partitions over 2 handlers, through the codecs: decode + split + encode "
        f"{sj['split_us']} us, decode 2 answers + join + encode {sj['join_us']} us"
    )
    print(f"the same on bytes (produce_split): split {sj['split_bytes_us']} us, join {sj['join_bytes_us']} us")
    path = _common.write_json({"wake_round_trips": wakes, "split_and_join": sj}, args.json_out, "hop_cost")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
