"""Produce and consume throughput, and broker CPU-seconds per GB, per process topology.

    .venv/bin/python perf/mp_perf.py                       # every topology, 1 and 4 connections
    .venv/bin/python perf/mp_perf.py --topologies 0/0,2/2 --connections 1 --messages 100000

Each topology (processors/handlers; "0/0" = in-process mode) gets a fresh broker (a
``python -m hpbroker`` subprocess on a temporary data dir) and a topic of ``--partitions``
partitions. Clients are confluent-kafka (librdkafka) in separate processes, one connection to
the broker each: producers send ``--messages`` values of ``--size`` bytes in total (acks=1,
linger 5 ms, round-robin over the partitions), then as many consumers read everything back
(each assigned its share of the partitions). ``--linger-ms 0 --size 100`` turns it into a
per-request benchmark: many small Produce requests, where the broker, not the client, is the
bottleneck. Broker CPU is user+system time of the supervisor
and all its children (psutil), measured over each phase; "broker cores" is that CPU time over
the phase's wall time (how many cores the broker kept busy). Output: one Markdown table row per
run, ready for the docs: the median of ``--repeat`` rounds (each round runs every cell once).
A second table splits the produce phase by role (the children name themselves ``hpb-p<i>`` and
``hpb-h<i>``): each role's CPU-s/GB and how often its processes were woken (voluntary context
switches per GB), each topology's produce throughput against in-process mode with the same
connections, the measure of the cross-process hop, and the producers' own CPU-s/GB (getrusage of
each client process, librdkafka's threads included): on a machine where clients and broker
share the cores, a topology can cost its clients CPU as well as itself. A third table (the
confluent-kafka producer only) splits that client CPU between the Python thread that calls
``produce()`` and librdkafka's threads, with how often librdkafka's broker thread slept.
``--producer kcat`` sends the same values with kcat (librdkafka's C command-line client, one
process per connection; with one connection kcat's default partitioner, sticky to one partition
per batch, with several connection k writes partition k) instead of confluent-kafka's Python
producer: whether a figure belongs to the broker or to the Python client.
``--event-loops asyncio,uvloop`` runs every cell on each loop (``hpbroker --event-loop``),
alternating, and adds a column. ``--pin-clients 0 --pin-broker 1`` confines the client processes
(with their librdkafka threads) and the broker's processes to those CPUs: on a machine where
they share two cores, whether a topology's cost is its own or the cores it takes from the client.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time

import _common  # perf/ is on sys.path: this script runs as a file
import psutil

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from hpbroker.testing import running_broker  # noqa: E402


def _role(name: str) -> str:
    # a multi-process broker's children name their role (hpb-p0, hpb-h1); the rest is the
    # supervisor, or the whole in-process broker
    return {"hpb-p": "processors", "hpb-h": "handlers"}.get(name[:5], "main")


def _delta(before: dict, after: dict) -> dict:
    """Between two samples of the broker's tree (_common.tree_cpu_sample): CPU seconds in total
    and per role, and each role's voluntary context switches: one per time a process went to
    sleep waiting for work (an epoll_wait that blocked), i.e. how often it was woken."""
    out = {"cpu": _common.cpu_seconds_between(before, after)}
    for pid, b in after.items():
        role, a = _role(b["name"]), before.get(pid)
        cpu = _common.cpu_seconds_between({pid: a} if a else {}, {pid: b})
        out[f"cpu_{role}"] = out.get(f"cpu_{role}", 0.0) + cpu
        out[f"wakes_{role}"] = out.get(f"wakes_{role}", 0) + b["wakes"] - (a["wakes"] if a else 0)
    return out


def _pin(pid: int, cpus: list[int] | None) -> None:
    """Confine a broker process and its children (processors, handlers) to ``cpus``."""
    if cpus:
        root = psutil.Process(pid)
        for p in [root] + root.children(recursive=True):
            p.cpu_affinity(cpus)


def _cpus(spec: str | None) -> list[int] | None:
    return [int(c) for c in spec.split(",")] if spec else None


_CLIENT_CPUS: list[int] | None = None  # set in main(); forked clients pin themselves to it


def _pin_client() -> None:
    if _CLIENT_CPUS:  # before librdkafka starts its threads: they inherit it
        os.sched_setaffinity(0, _CLIENT_CPUS)


def _producer(bootstrap, topic, n, size, partitions, linger_ms, start, done):
    _pin_client()
    from confluent_kafka import Producer

    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "1",
            "linger.ms": linger_ms,
            "batch.size": 1000000,
            "queue.buffering.max.messages": 500000,
            "queue.buffering.max.kbytes": 1048576,
            "enable.idempotence": False,
        }
    )
    p.list_topics(topic, timeout=10)
    payload = b"x" * size
    start.wait()
    cpu0, threads0 = _common.own_cpu_seconds(), _common.own_threads_sample()
    for i in range(n):
        while True:
            try:
                p.produce(topic, payload, partition=i % partitions)
                break
            except BufferError:
                p.poll(0.005)
    left = p.flush(120)
    split = _common.client_threads_between(threads0, _common.own_threads_sample(), threading.get_native_id())
    done.put((left, _common.own_cpu_seconds() - cpu0, split))  # librdkafka's threads included


_VALUES: str | None = None  # set in main() for --producer kcat: a file of newline-ended values


def _kcat_producer(bootstrap, topic, n, size, partition, linger_ms, start, done):
    """kcat -P reading ``n`` newline-delimited values from the values file, into ``partition``
    (None: kcat's default partitioner). kcat starts (and connects) before the clock does; its
    input arrives through a pipe once the clock runs, so the clock measures the produce, not
    kcat's start-up. The file holds values of ``size - 1`` bytes plus the newline kcat strips:
    ``size`` bytes of input per value."""
    _pin_client()
    import subprocess

    cmd = [
        "kcat",
        "-P",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-X",
        "acks=1",
        "-X",
        f"linger.ms={linger_ms}",
        "-X",
        "batch.size=1000000",
        "-X",
        "queue.buffering.max.messages=500000",
        "-X",
        "queue.buffering.max.kbytes=1048576",
        "-X",
        "enable.idempotence=false",
    ]
    if partition is not None:
        cmd += ["-p", str(partition)]
    kcat = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    start.wait()
    kids0 = _common.own_cpu_seconds(resource.RUSAGE_CHILDREN)
    with open(_VALUES, "rb") as f:
        left, offset = n * size, 0
        while left:  # file -> pipe in the kernel: the client process copies nothing itself
            sent = os.sendfile(kcat.stdin.fileno(), f.fileno(), offset, min(left, 1 << 24))
            offset, left = offset + sent, left - sent
    kcat.stdin.close()
    rc = kcat.wait(120)
    cpu = _common.own_cpu_seconds() + _common.own_cpu_seconds(resource.RUSAGE_CHILDREN) - kids0
    done.put((0 if rc == 0 else n, cpu))  # kcat exits non-zero when a value was not delivered


def write_values(path: str, n: int, size: int) -> None:
    """``n`` values of ``size - 1`` bytes, each ended by a newline (kcat's delimiter)."""
    line = b"x" * (size - 1) + b"\n"
    block = line * max(1, (1 << 20) // size)
    with open(path, "wb") as f:
        whole, rest = divmod(n, max(1, (1 << 20) // size))
        for _ in range(whole):
            f.write(block)
        f.write(line * rest)


def _consumer(bootstrap, topic, parts, expected, start, done):
    _pin_client()
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"perf-{os.getpid()}",
            "enable.auto.commit": False,
            "fetch.max.bytes": 52428800,
            "max.partition.fetch.bytes": 10485760,
            "fetch.wait.max.ms": 100,
            "queued.max.messages.kbytes": 262144,
            # a full queue would stop the fetcher for 1 s (consume_perf.py says why)
            "fetch.queue.backoff.ms": 10,
        }
    )
    c.list_topics(topic, timeout=10)  # connected, and the partitions' leader known
    start.wait()
    # assigned only once the clock runs: librdkafka starts fetching at assign(), and would
    # otherwise read up to queued.max.messages.kbytes ahead while the clients settle, off the
    # clock and off the broker's CPU sample
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    got = 0
    deadline = time.monotonic() + 300
    while got < expected and time.monotonic() < deadline:
        msgs = c.consume(10000, 0.5)
        got += sum(1 for m in msgs if not m.error())
    c.close()
    done.put(got)


def _run_clients(target, args_per_client):
    ctx = mp.get_context("fork")
    start, done = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, start, done)) for a in args_per_client]
    for p in procs:
        p.start()
    time.sleep(1.0)  # connections and metadata settled before the clock starts
    return procs, start, done


def measure(
    processors: int,
    handlers: int,
    connections: int,
    messages: int,
    size: int,
    partitions: int,
    data_root: str | None = None,
    linger_ms: float = 5,
    event_loop: str | None = None,
    broker_cpus: list[int] | None = None,
    scheduling: str | None = None,
    producer: str = "confluent",
):
    if data_root:
        os.makedirs(data_root, exist_ok=True)  # e.g. a fresh tmpfs directory
    data_dir = tempfile.mkdtemp(prefix="perf-", dir=data_root)
    try:
        return _measure(
            processors,
            handlers,
            connections,
            messages,
            size,
            partitions,
            data_dir,
            linger_ms,
            event_loop,
            broker_cpus,
            scheduling,
            producer,
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _measure(
    processors,
    handlers,
    connections,
    messages,
    size,
    partitions,
    data_dir,
    linger_ms,
    event_loop=None,
    broker_cpus=None,
    scheduling=None,
    producer="confluent",
):
    from confluent_kafka.admin import AdminClient, NewTopic

    args = ["--processors", str(max(processors, 1)), "--handlers", str(handlers)]
    if event_loop:
        args += ["--event-loop", event_loop]
    if scheduling:
        args += ["--scheduling", scheduling]
    with running_broker(subprocess=True, args=args, data_dir=data_dir, startup_timeout=60) as b:
        _pin(b.process.pid, broker_cpus)  # every child is up once the broker listens
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        for f in admin.create_topics([NewTopic("perf", num_partitions=partitions, replication_factor=1)]).values():
            f.result(20)
        per = messages // connections // partitions * partitions
        total = per * connections
        gb = total * size / 1e9
        row = {}
        if producer == "kcat":
            # one connection: kcat's partitioner spreads the values unevenly, and the one consumer
            # reads every partition; several: connection k writes partition k % partitions
            parts = [None] if connections == 1 else [k % partitions for k in range(connections)]
            procs, start, done = _run_clients(
                _kcat_producer, [(b.bootstrap, "perf", per, size, part, linger_ms) for part in parts]
            )

            def expected(share):
                return sum(per for part in parts if part is None or part in share)
        else:
            procs, start, done = _run_clients(
                _producer, [(b.bootstrap, "perf", per, size, partitions, linger_ms)] * connections
            )

            def expected(share):
                return total // partitions * len(share)

        tree0, t0 = _common.tree_cpu_sample(b.process.pid), time.monotonic()
        start.set()
        results = [done.get(timeout=600) for _ in procs]
        elapsed, tree = time.monotonic() - t0, _delta(tree0, _common.tree_cpu_sample(b.process.pid))
        cpu = tree["cpu"]
        for p in procs:
            p.join()
        assert not any(r[0] for r in results), f"undelivered messages: {results}"
        row["produce_mb_s"] = total * size / elapsed / 1e6
        row["produce_client_cpu_s_gb"] = sum(r[1] for r in results) / gb
        splits = [r[2] for r in results if len(r) > 2]  # confluent-kafka's producer: by thread
        for key in ("app_cpu", "librdkafka_cpu", "librdkafka_broker_sleeps"):
            row[f"produce_client_{key}_gb"] = sum(sp[key] for sp in splits) / gb if splits else float("nan")
        row["produce_cpu_s_gb"] = cpu / gb
        row["produce_cores"] = cpu / elapsed
        for role in ("main", "processors", "handlers"):
            row[f"produce_cpu_{role}_gb"] = tree.get(f"cpu_{role}", 0.0) / gb
            row[f"produce_wakes_{role}_gb"] = tree.get(f"wakes_{role}", 0) / gb
        shares = [[p for p in range(partitions) if p % connections == k] for k in range(connections)]
        procs, start, done = _run_clients(_consumer, [(b.bootstrap, "perf", s, expected(s)) for s in shares])
        cpu0, t0 = _common.tree_cpu_sample(b.process.pid), time.monotonic()
        start.set()
        got = sum(done.get(timeout=600) for _ in procs)
        elapsed = time.monotonic() - t0
        cpu = _common.cpu_seconds_between(cpu0, _common.tree_cpu_sample(b.process.pid))
        for p in procs:
            p.join()
        assert got >= total, f"consumed {got} of {total}"
        row["consume_mb_s"] = total * size / elapsed / 1e6
        row["consume_cpu_s_gb"] = cpu / gb
        row["consume_cores"] = cpu / elapsed
        return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topologies", default="0/0,1/1,2/2,4/4,8/16")
    ap.add_argument("--connections", default="1,4")
    ap.add_argument("--messages", type=int, default=400000)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument(
        "--linger-ms",
        type=float,
        default=5,
        help="producer linger.ms: 0 makes many small requests (per-request cost dominates)",
    )
    ap.add_argument(
        "--producer",
        choices=("confluent", "kcat"),
        default="confluent",
        help="the producing client: confluent-kafka's Python producer, or kcat (C)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="rounds over every cell; medians are reported")
    ap.add_argument(
        "--data-root", default=None, help="where the brokers' data dirs go (e.g. a tmpfs, to take the disk out)"
    )
    ap.add_argument(
        "--event-loops",
        default=None,
        help="e.g. asyncio,uvloop: every cell runs on each loop (--event-loop), interleaved",
    )
    ap.add_argument(
        "--scheduling",
        default=None,
        help="e.g. batch,normal: every cell runs under each policy (hpbroker --scheduling), "
        "interleaved; default: the broker's own default",
    )
    ap.add_argument(
        "--pin-clients",
        default=None,
        metavar="CPUS",
        help="e.g. 0: the client processes run only on these CPUs (comma-separated)",
    )
    ap.add_argument(
        "--pin-broker", default=None, metavar="CPUS", help="e.g. 1: the broker's processes run only on these CPUs"
    )
    _common.add_page_reporting_args(ap)
    a = ap.parse_args()
    global _CLIENT_CPUS
    _CLIENT_CPUS = _cpus(a.pin_clients)
    with _common.page_reporting_for(a):
        if a.producer != "kcat":
            return _run(a)
        global _VALUES
        if not shutil.which("kcat"):
            sys.exit("--producer kcat needs kcat on the PATH (apt-get install kcat)")
        values_dir = tempfile.mkdtemp(prefix="perf-values-", dir=a.data_root)
        try:
            _VALUES = os.path.join(values_dir, "values")
            write_values(_VALUES, a.messages // min(int(c) for c in a.connections.split(",")), a.size)
            _run(a)
        finally:
            shutil.rmtree(values_dir, ignore_errors=True)


def _run(a) -> None:
    loops = a.event_loops.split(",") if a.event_loops else [None]
    policies = a.scheduling.split(",") if a.scheduling else [None]
    # a variant: the event loop and scheduling policy a cell runs (labelled "uvloop batch")
    variants = [(lp, sp) for lp in loops for sp in policies]
    varied = bool(a.event_loops or a.scheduling)
    col = " variant |" if varied else ""
    print(
        f"| processors/handlers |{col} connections | produce MB/s | produce CPU-s/GB | broker cores (produce) "
        "| consume MB/s | consume CPU-s/GB | broker cores (consume) |"
    )
    print("|---|" + ("---|" if varied else "") + "---|---|---|---|---|---|---|")
    cells = [
        (int(c), topo, lp) for c in a.connections.split(",") for topo in a.topologies.split(",") for lp in variants
    ]
    runs: dict = {cell: [] for cell in cells}
    # rounds interleave the topologies, so a slow minute of a shared machine hits them all
    for rnd in range(a.repeat):
        for conns, topo, lp in cells:
            p, h = (int(x) for x in topo.split("/"))
            r = measure(
                p,
                h,
                conns,
                a.messages,
                a.size,
                a.partitions,
                a.data_root,
                a.linger_ms,
                lp[0],
                _cpus(a.pin_broker),
                lp[1],
                a.producer,
            )
            runs[(conns, topo, lp)].append(r)
            # progress, and the per-round figures the medians hide
            print(
                f"round {rnd + 1}/{a.repeat} {topo}{' ' + _label(lp) if varied else ''} x{conns}: produce "
                f"{r['produce_mb_s']:.0f} MB/s {r['produce_cpu_s_gb']:.2f} CPU-s/GB (clients "
                f"{r['produce_client_cpu_s_gb']:.2f}), consume "
                f"{r['consume_mb_s']:.0f} MB/s",
                file=sys.stderr,
                flush=True,
            )
    for conns, topo, lp in cells:
        rs = runs[(conns, topo, lp)]
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        p, h = (int(x) for x in topo.split("/"))
        name = "in-process" if h == 0 else f"{p}/{h}"
        cell = f" {_label(lp)} |" if varied else ""
        print(
            f"| {name} |{cell} {conns} | {med['produce_mb_s']:.0f} | {med['produce_cpu_s_gb']:.2f} | "
            f"{med['produce_cores']:.2f} | {med['consume_mb_s']:.0f} | {med['consume_cpu_s_gb']:.2f} | "
            f"{med['consume_cores']:.2f} |",
            flush=True,
        )
    _print_roles(cells, runs)


def _label(variant) -> str:
    return " ".join(v for v in variant if v)


def _medians(cells, runs):
    """Per cell: the cell, its row name ("1/1", "in-process (uvloop)") and the median of each
    figure over its rounds."""
    for cell in cells:
        rs = runs[cell]
        p, h = (int(x) for x in cell[1].split("/"))
        name = ("in-process" if h == 0 else f"{p}/{h}") + (f" ({_label(cell[2])})" if _label(cell[2]) else "")
        yield cell, name, {k: statistics.median(r[k] for r in rs) for k in rs[0]}


def _print_roles(cells, runs) -> None:
    """Where the produce CPU goes per role, and how often each role was woken (medians): the
    cost of the hop is what the processors and handlers spend beyond the in-process broker."""
    print()
    print(
        "| processors/handlers | connections | produce vs in-process | CPU-s/GB main process | processors "
        "| handlers | wake-ups per GB main process | processors | handlers | client CPU-s/GB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (conns, _topo, lp), name, med in _medians(cells, runs):
        base = [r for (c, t, lp2), r in runs.items() if c == conns and t.endswith("/0") and lp2 == lp]
        rel = "-"
        if base and base[0]:
            ref = statistics.median(r["produce_mb_s"] for r in base[0])
            rel = f"{100 * (med['produce_mb_s'] / ref - 1):+.1f}%"
        print(
            f"| {name} | {conns} | {rel} | {med['produce_cpu_main_gb']:.2f} | {med['produce_cpu_processors_gb']:.2f} "
            f"| {med['produce_cpu_handlers_gb']:.2f} | {med['produce_wakes_main_gb']:.0f} "
            f"| {med['produce_wakes_processors_gb']:.0f} | {med['produce_wakes_handlers_gb']:.0f} "
            f"| {med['produce_client_cpu_s_gb']:.2f} |",
            flush=True,
        )
    if not any(math.isnan(r["produce_client_app_cpu_gb"]) for rs in runs.values() for r in rs):
        _print_client_threads(cells, runs)


def _print_client_threads(cells, runs) -> None:
    """The producers' CPU by thread (medians): the Python thread that calls produce() and
    librdkafka's threads, and how often librdkafka's broker threads slept (voluntary context
    switches per GB): whose CPU a topology adds to a client on shared cores."""
    print()
    print(
        "| processors/handlers | connections | client CPU-s/GB: calling thread | librdkafka threads "
        "| librdkafka broker-thread sleeps per GB |"
    )
    print("|---|---|---|---|---|")
    for (conns, _, _), name, med in _medians(cells, runs):
        print(
            f"| {name} | {conns} | {med['produce_client_app_cpu_gb']:.2f} | "
            f"{med['produce_client_librdkafka_cpu_gb']:.2f} | "
            f"{med['produce_client_librdkafka_broker_sleeps_gb']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
