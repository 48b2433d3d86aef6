"""Helpers shared by the perf scripts: command-line options, topic creation, percentiles,
JSON results, progress lines and CPU accounting of a broker's process tree.

The scripts are run as files (``python perf/produce_perf.py``), so this directory is on
sys.path and they import this module as ``_common``; nothing here imports hpbroker, so the
tools work against any Kafka-protocol broker.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# --- command line ------------------------------------------------------------------------

def add_common_args(parser: argparse.ArgumentParser, script: str) -> None:
    """--bootstrap, --json-out and -X (raw librdkafka settings), the same in every script."""
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", metavar="HOST:PORT",
                        help="bootstrap address of any Kafka-protocol broker (default %(default)s)")
    parser.add_argument("--json-out", type=Path, default=None,
                        help=f"where to write the JSON result (default perf/results/{script}-<time>.json)")
    parser.add_argument("-X", dest="client_config", action="append", default=[], metavar="KEY=VALUE",
                        help="extra librdkafka setting for every client, repeatable (e.g. -X fetch.wait.max.ms=10)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def parse_client_config(pairs: list[str]) -> dict[str, str]:
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"-X expects KEY=VALUE, got {pair!r}")
        config[key.strip()] = value.strip()
    return config


def csv_list(cast):
    """argparse type for comma-separated lists: --linger-ms 0,5,20."""
    def parse(text: str):
        return [cast(item) for item in text.split(",") if item.strip()]
    return parse


# --- topics ------------------------------------------------------------------------------

def ensure_topic(bootstrap: str, topic: str, partitions: int, client_config: dict | None = None,
                 timeout: float = 15.0) -> int:
    """Create ``topic`` if missing and wait until its metadata is visible; return its partition
    count. An existing topic is left as it is (its partition count is reported, not changed)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, **(client_config or {})})
    existing = admin.list_topics(timeout=timeout).topics.get(topic)
    if existing is None or existing.error is not None:
        future = admin.create_topics([NewTopic(topic, partitions, 1)],
                                     operation_timeout=timeout)[topic]
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    # Brokers may answer CreateTopics before every partition has a leader in the metadata.
    deadline = time.monotonic() + timeout
    while True:
        meta = admin.list_topics(topic=topic, timeout=timeout).topics.get(topic)
        if meta is not None and meta.error is None and meta.partitions and all(
                p.leader >= 0 for p in meta.partitions.values()):
            return len(meta.partitions)
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic!r} has no leaders after {timeout}s")
        time.sleep(0.1)


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000)}-{os.getpid()}"


# --- statistics --------------------------------------------------------------------------

def percentiles(values, points=(50, 95, 99, 99.9, 100)) -> dict[str, float | None]:
    """Nearest-rank percentiles, keyed "p50", "p99.9", ... ("max" for 100)."""
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for point in points:
        key = "max" if point == 100 else f"p{point:g}"
        if not ordered:
            out[key] = None
            continue
        # round() first: 99.9 / 100 * 1000 is 999.0000000000001 in binary floating point
        rank = max(1, math.ceil(round(point / 100 * len(ordered), 9)))
        out[key] = ordered[rank - 1]
    return out


def rate_summary(records: int, nbytes: int, seconds: float) -> dict[str, float]:
    seconds = max(seconds, 1e-9)
    return {"records": records, "bytes": nbytes, "seconds": round(seconds, 4),
            "records_per_s": round(records / seconds, 1),
            "mb_per_s": round(nbytes / seconds / 1e6, 3)}


# --- output ------------------------------------------------------------------------------

class Progress:
    """Prints at most one line per ``interval`` seconds, to stderr so stdout stays parseable."""

    def __init__(self, label: str, interval: float = 2.0, quiet: bool = False):
        self.label, self.interval, self.quiet = label, interval, quiet
        self._next = time.monotonic() + interval

    def due(self) -> bool:
        return not self.quiet and time.monotonic() >= self._next

    def say(self, text: str, force: bool = False) -> None:
        if self.quiet or not (force or self.due()):
            return
        self._next = time.monotonic() + self.interval
        print(f"[{self.label}] {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, object]:
    """Which machine a figure came from: tuning.md quotes this with every number."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "python": platform.python_version(), "host": platform.node()}


def write_json(result: dict, path: Path | None, script: str) -> Path:
    if path is None:
        path = RESULTS_DIR / f"{script}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"script": script, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "command": " ".join(sys.argv), "machine": machine(), **result}
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


# --- CPU accounting ----------------------------------------------------------------------

def tree_cpu_seconds(pid: int) -> float:
    """user+system CPU seconds of ``pid`` and all its live descendants, plus what it has
    collected from reaped children. A broker may fork processors/handlers, so the process
    alone would under-count. Descendants that exit between two samples without being reaped
    by a process in the tree are lost; brokers reap their children, so that is rare."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


# --- worker processes --------------------------------------------------------------------

def gather(queue, procs, count: int, timeout: float) -> list:
    """``count`` items from ``queue``, failing fast (not after ``timeout``) when a worker
    process died without sending its item, e.g. because its client could not be created."""
    import queue as queue_mod

    items = []
    deadline = time.monotonic() + timeout
    while len(items) < count:
        try:
            items.append(queue.get(timeout=0.2))
            continue
        except queue_mod.Empty:
            pass
        dead = [p for p in procs if p.exitcode not in (None, 0)]
        if dead:
            raise RuntimeError(f"worker process {dead[0].name} exited with code {dead[0].exitcode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count - len(items)} of {count} workers did not report in {timeout}s")
    return items


def stop_processes(procs, timeout: float = 5.0) -> None:
    for proc in procs:
        proc.join(timeout=timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()
