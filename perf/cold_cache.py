"""What a bulk copy does to the Python that runs after it: the Produce handler path on warm and
on evicted caches.

    python perf/cold_cache.py [--requests 2000] [--sizes 0,262144,1048576,4194304]

A broker receiving a 1 MB Produce copies ~1 MB off the socket and ~1 MB into the page cache:
with the kernel's side of both copies that is several MB through a core's L2 per request. The
Python that handles the request (event loop, framing, decode, handle, encode) then runs on
evicted caches. This script times that Python alone -- ``produce.handle`` and the response
encode for a small one-partition Produce on an in-process ``LocalBroker`` (data under
--dir) -- with and without a copy of N bytes (memcpy of a bytearray) right before each
request, so the difference is the cost of coming back to the interpreter after moving N bytes.
Figures in ../docs/performance.md ("What limits them").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common  # noqa: E402

from hpbroker import protocol  # noqa: E402
from hpbroker.broker.interface import Node  # noqa: E402
from hpbroker.broker.local import LocalBroker  # noqa: E402
from hpbroker.broker.request import RequestContext  # noqa: E402
from hpbroker.config import BrokerConfig  # noqa: E402
from hpbroker.handlers import produce  # noqa: E402
from hpbroker.records.builder import build_batch  # noqa: E402


def measure(requests: int, sizes: list[int], directory: str, rounds: int = 2) -> list[dict]:
    tmp = tempfile.mkdtemp(dir=directory, prefix="cold-cache-")
    broker = LocalBroker(BrokerConfig({"log.dirs": tmp}), Node(0, "localhost", 9092))
    try:
        asyncio.run(broker.controller.create_topic("t", 1, {}))
        batch = bytes(build_batch([b"x" * 100] * 10))
        ctx = RequestContext(broker, produce.API_KEY, 8, 1, "perf", "cold-cache")
        results = {size: [] for size in sizes}
        for _ in range(rounds):  # sizes interleaved, so a drift of the machine hits them all
            for size in sizes:
                src, dst = bytearray(os.urandom(size)), bytearray(size)
                total = 0.0
                for _ in range(requests):
                    request = {
                        "transactional_id": None,
                        "acks": 1,
                        "timeout_ms": 1000,
                        "topic_data": [{"name": "t", "partition_data": [{"index": 0, "records": bytearray(batch)}]}],
                    }
                    if size:
                        dst[:] = src
                    t0 = time.perf_counter()
                    protocol.encode_response(produce.API_KEY, 8, 1, produce.handle(ctx, request))
                    total += time.perf_counter() - t0
                results[size].append(1e6 * total / requests)
        return [{"copy_bytes": size, "us_per_request": round(min(v), 1)} for size, v in results.items()]
    finally:
        broker.close()
        shutil.rmtree(tmp, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=2000, help="requests per size and round")
    p.add_argument("--sizes", default="0,262144,1048576,4194304", help="bytes copied before each request")
    p.add_argument("--dir", default="/tmp", help="where the broker's data goes (removed afterwards)")
    p.add_argument("--json-out", type=Path, default=None)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    rows = measure(args.requests, [int(s) for s in args.sizes.split(",")], args.dir)
    base = rows[0]["us_per_request"]
    for row in rows:
        print(
            f"copy {row['copy_bytes']:>9} B before each request: handle + encode "
            f"{row['us_per_request']:6.1f} us ({row['us_per_request'] / base:.1f}x)"
        )
    path = _common.write_json({"rows": rows}, args.json_out, "cold_cache")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
