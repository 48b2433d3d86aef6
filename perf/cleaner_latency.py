"""What log cleaner passes do to other clients' latency: e2e latency on one topic while a
producer keeps a compacted topic dirty enough for passes to run back to back.

    .venv/bin/python perf/cleaner_latency.py [--cleaner on|off] [--seconds 20] [--rate 1000]
                                             [--processors 1 --handlers 0] [--backlog-seconds 8]

Starts hpbroker from this checkout (``--processors 1 --handlers 0``: the in-process broker, so
the cleaner thread shares its owner's interpreter with the loop that serves the latency probe),
creates a compacted topic (segment.bytes 16 MiB, min.cleanable.dirty.ratio 0.01), lets one
producer write 200-byte values over 200,000 keys into it for 8 s (--backlog-seconds), then runs
``perf/e2e_latency.py --rate R --duration S --acks all`` on another topic while that producer
goes on. Prints the passes the broker logged and the latency percentiles; ``--cleaner off``
(log.cleaner.enable=false) gives the same load without passes. Figures: ../tuning.md, "Log
compaction".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from hpbroker.testing import running_broker  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def _load(bootstrap: str, stop: threading.Event) -> None:
    from confluent_kafka import Producer

    p = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 200000, "queue.buffering.max.messages": 200000}
    )
    value = os.urandom(200)
    i = 0
    while not stop.is_set():
        try:
            p.produce("compacted", key=b"key-%06d" % (i % 200_000), value=value)
            i += 1
        except BufferError:
            p.poll(0.01)
        if i % 1000 == 0:
            p.poll(0)
            time.sleep(0.005)  # leave the latency probe some room on two cores
    p.flush(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cleaner", choices=("on", "off"), default="on")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--processors", type=int, default=1)
    ap.add_argument("--handlers", type=int, default=0)
    ap.add_argument(
        "--backlog-seconds",
        type=float,
        default=8,
        help="how long the compacted topic is written to before the probe starts",
    )
    a = ap.parse_args()
    from confluent_kafka.admin import AdminClient, NewTopic

    config = {"log.cleaner.backoff.ms": "100", "log.cleaner.enable": "true" if a.cleaner == "on" else "false"}
    args = ["--processors", str(a.processors), "--handlers", str(a.handlers)]
    with running_broker(subprocess=True, config=config, args=args) as b, tempfile.TemporaryDirectory() as tmp:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.create_topics(
            [
                NewTopic(
                    "compacted",
                    1,
                    1,
                    config={
                        "cleanup.policy": "compact",
                        "segment.bytes": str(16 << 20),
                        "min.cleanable.dirty.ratio": "0.01",
                    },
                )
            ]
        )["compacted"].result(15)
        stop = threading.Event()
        loader = threading.Thread(target=_load, args=(b.bootstrap, stop))
        loader.start()
        try:
            time.sleep(a.backlog_seconds)  # a backlog: passes under way before the probe starts
            out = os.path.join(tmp, "e2e.json")
            subprocess.run(
                [
                    sys.executable,
                    os.path.join(ROOT, "perf", "e2e_latency.py"),
                    "--bootstrap",
                    b.bootstrap,
                    "--rate",
                    str(a.rate),
                    "--duration",
                    str(a.seconds),
                    "--acks",
                    "all",
                    "--quiet",
                    "--json-out",
                    out,
                ],
                check=True,
                cwd=ROOT,
            )
        finally:
            stop.set()
            loader.join(60)
        latency = json.load(open(out))["latency_ms"]
        passes = sum("hpbroker.storage.cleaner: cleaned" in line for line in list(b.extra["log"]))
    print(
        f"cleaner {a.cleaner}: {passes} passes; e2e latency ms p50 {latency['p50']}, p99 {latency['p99']}, "
        f"p99.9 {latency['p99.9']}, max {latency['max']}"
    )


if __name__ == "__main__":
    main()
