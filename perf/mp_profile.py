"""Where a broker spends its CPU under load, per process role, sampled with py-spy.

    .venv/bin/pip install py-spy        # a measurement tool only: not a dependency
    .venv/bin/python perf/mp_profile.py --processors 2 --handlers 2 --messages 2000000

Starts a broker (``--handlers 0`` = in-process), produces ``--messages`` values of 1000 bytes
from one confluent-kafka producer (one connection), then reads them back, while
``py-spy record --subprocesses`` samples the broker's process tree. Prints, per process role,
the share of busy samples (waiting in epoll excluded) by the innermost hpbroker frame, and the
share whose innermost frame is the event loop's own Python code (asyncio's ``_run_once``,
handle dispatch, selector registration, ``call_soon``/``call_later``: what a faster loop could
save; ``--event-loop uvloop`` runs the same load on uvloop, whose loop is C and not sampled).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from hpbroker.testing import running_broker  # noqa: E402

_READY = re.compile(r"(handler|processor) (\d+) ready \(pid (\d+)\)")


def _load(bootstrap: str, n: int) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic("prof", 4, 1)]).values():
        f.result(20)
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "1",
            "linger.ms": 5,
            "batch.size": 1000000,
            "queue.buffering.max.messages": 500000,
            "queue.buffering.max.kbytes": 1048576,
        }
    )
    payload = b"x" * 1000
    for i in range(n):
        while True:
            try:
                p.produce("prof", payload, partition=i % 4)
                break
            except BufferError:
                p.poll(0.005)
    p.flush(120)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "prof", "enable.auto.commit": False})
    c.assign([TopicPartition("prof", i, OFFSET_BEGINNING) for i in range(4)])
    got = 0
    while got < n:
        got += sum(1 for m in c.consume(10000, 1.0) if not m.error())
    c.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--processors", type=int, default=2)
    ap.add_argument("--handlers", type=int, default=2)
    ap.add_argument("--messages", type=int, default=2000000)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--event-loop", default=None, help="asyncio or uvloop (hpbroker --event-loop)")
    a = ap.parse_args()
    if a.data_root:
        os.makedirs(a.data_root, exist_ok=True)  # e.g. a fresh tmpfs directory
    data_dir = tempfile.mkdtemp(prefix="prof-", dir=a.data_root)
    out = os.path.join(os.path.dirname(data_dir), f"pyspy-{os.getpid()}.txt")
    args = ["--processors", str(a.processors), "--handlers", str(a.handlers)]
    if a.event_loop:
        args += ["--event-loop", a.event_loop]
    try:
        with running_broker(subprocess=True, args=args, data_dir=data_dir) as b:
            spy = subprocess.Popen(
                [
                    os.path.join(os.path.dirname(sys.executable), "py-spy"),
                    "record",
                    "-p",
                    str(b.process.pid),
                    "--subprocesses",
                    "-r",
                    "250",
                    "--format",
                    "raw",
                    "-o",
                    out,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
            _load(b.bootstrap, a.messages)
            spy.send_signal(2)
            spy.wait(30)
            roles = {}
            for line in b.extra["log"]:
                m = _READY.search(line)
                if m:
                    roles[m.group(3)] = m.group(1)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    per, busy, loop_own = defaultdict(Counter), Counter(), defaultdict(Counter)
    with open(out) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            if frames[-1].startswith(("EpollSelector.select", "Supervisor._watch")):
                continue
            procs = [x for x in frames if x.startswith("process ")]
            pid = re.match(r"process (\d+)", procs[-1]).group(1) if procs else "?"
            role = roles.get(pid, "in-process" if a.handlers == 0 else "supervisor")
            inner = [
                x
                for x in frames
                if "hpbroker/" in x
                and "supervisor.py" not in x
                and "cli.py" not in x
                and "__main__" not in x
                and "eventloop.py" not in x
            ]
            per[role][inner[-1] if inner else frames[-1]] += int(n)
            busy[role] += int(n)
            leaf = frames[-1]
            if "asyncio/" in leaf or "selectors.py" in leaf or "uvloop" in leaf:
                loop_own[role][leaf] += int(n)
    os.unlink(out)
    for role, c in per.items():
        print(f"\n{role}: {busy[role]} busy samples")
        for frame, n in c.most_common(a.top):
            print(f"  {100 * n / busy[role]:5.1f}%  {frame}")
        own = loop_own[role]
        print(f"  event loop's own code: {100 * sum(own.values()) / busy[role]:.1f}% of busy samples")
        for frame, n in own.most_common(5):
            print(f"    {100 * n / busy[role]:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
