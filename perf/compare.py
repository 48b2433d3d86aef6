"""hpbroker against a peer Kafka-protocol broker, the same workloads alternately, in one run.

    python perf/compare.py                      # starts hpbroker and the Tansu binary itself
    python perf/compare.py --peer-bootstrap 127.0.0.1:9092 --peer-pid 1234   # a running Kafka
    python perf/compare.py --hpbroker-bootstrap 127.0.0.1:9093 --hpbroker-pid 5678

Theory of operation: on a shared, noisy machine figures are only comparable when taken in one
run, interleaved: for every round and every workload each broker takes its turn,
and the order of the brokers flips every round so a drift (page cache, a neighbour's load)
hits both alike. Each workload is the same code as the stand-alone script (produce_perf,
consume_perf, e2e_latency) with fixed parameters from the targets of docs/performance.md. A
broker's cost is the CPU time of its process tree (each thread's exact run time where the kernel
shows it, else clock ticks: _common.tree_cpu_sample) sampled just before and after each
workload, divided by the gigabytes the workload moved. The cost floor (perf/floor.py) is
measured at the start of every round, so each CPU-per-GB figure is divided by a yardstick taken
minutes, not a whole run, before it: on a shared VM page-cache costs can drift by several times
within one run, and a floor measured once at the start would make the ratios of later rounds
meaningless. "x floor" is the median of the per-round ratios. On a VM whose freed memory goes
back to its host (free page reporting), new page-cache pages cost a fault-in from the host
whoever writes them; ``--pause-page-reporting`` takes that out for the run (_common.py).
Medians over the rounds are reported; every single figure is in the JSON.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _brokers
import _common
import consume_perf
import e2e_latency
import floor
import produce_perf

HP, PEER = "hpbroker", "peer"


def workloads(ns) -> list[dict]:
    """The workloads of docs/performance.md, "The targets". ``metric`` is the figure compared;
    ``higher`` says which way is good; ``target`` is the ratio hpbroker/peer to reach (for
    latency, an absolute bound in ms)."""
    batching = ["--batch-size", str(ns.batch_size), "--linger-ms", f"{ns.linger_ms:g}"]
    return [
        {
            "name": "produce 1 partition, 1 KB, acks=all",
            "kind": "produce",
            "key": "p1k",
            "argv": [
                "--partitions",
                "1",
                "--record-size",
                "1000",
                "--acks",
                "all",
                "--records",
                str(ns.records_1k),
                "--producers",
                str(ns.producers),
            ]
            + batching,
            "metric": "mb_per_s",
            "higher": True,
            "target": ">= 1.25x peer MB/s",
            "floor": "in",
        },
        {
            "name": "produce 6 partitions, 100 B, acks=1"
            + (f", {ns.producers_100b} producer processes" if ns.producers_100b > 1 else ""),
            "kind": "produce",
            "key": "p100",
            "argv": [
                "--partitions",
                "6",
                "--record-size",
                "100",
                "--acks",
                "1",
                "--records",
                str(ns.records_100b),
                "--producers",
                str(ns.producers_100b),
            ]
            + batching,
            "metric": "records_per_s",
            "higher": True,
            "target": ">= 1.0x peer records/s",
            "floor": "in",
        },
        {
            "name": "consume from the beginning, 1 KB",
            "kind": "consume",
            "key": "c1k",
            "source": "p1k",
            "argv": ["--consumers", str(ns.consumers), "--idle-timeout", "10"],
            "metric": "mb_per_s",
            "higher": True,
            "target": ">= 1.25x peer MB/s",
            "floor": "out",
        },
        {
            "name": f"e2e latency, {ns.e2e_rate:g} rec/s, acks=all",
            "kind": "e2e",
            "key": "e2e",
            "argv": ["--rate", str(ns.e2e_rate), "--duration", str(ns.e2e_duration), "--warmup", "1", "--acks", "all"],
            "metric": "p99_ms",
            "higher": False,
            "target": "p99 <= 5 ms",
            "floor": None,
        },
    ]


def run_workload(work: dict, broker, round_no: int, topics: dict) -> dict:
    """One workload on one broker; returns its figures plus the broker's CPU per GB."""
    base = ["--bootstrap", broker.bootstrap, "--quiet"]
    if work["kind"] == "produce":
        topic = f"cmp-{work['key']}-r{round_no}-{int(time.time())}"
        module, argv = produce_perf, base + ["--topic", topic] + work["argv"]
    elif work["kind"] == "consume":
        module = consume_perf
        # Read exactly what was produced: the high watermark some brokers report is not it.
        topic, records = topics[(broker.name, work["source"])]
        argv = base + ["--topic", topic, "--records", str(records)] + work["argv"]
    else:
        module, argv = e2e_latency, base + work["argv"]
    args = module.args_dict(module.build_parser().parse_args(argv))
    cpu0 = _common.tree_cpu_sample(broker.pid) if broker.pid else None
    result = module.run(args)
    cpu1 = _common.tree_cpu_sample(broker.pid) if broker.pid else None
    if work["kind"] == "produce":
        topics[(broker.name, work["key"])] = (args["topic"], result["records"])
    if work["kind"] == "e2e":
        nbytes = result["sent"] * args["record_size"]
        figure = result["latency_ms"]["p99"]
        detail = e2e_latency.summary_line(result)
    else:
        nbytes = result["bytes"]
        figure = result[work["metric"]]
        detail = module.summary_line(result)
    cpu = None if cpu0 is None else _common.cpu_seconds_between(cpu0, cpu1)
    return {
        "figure": figure,
        "bytes": nbytes,
        "cpu_seconds": cpu,
        "cpu_s_per_gb": None if cpu is None or not nbytes else round(cpu / (nbytes / 1e9), 3),
        "summary": detail,
        "result": result,
    }


def start_brokers(ns) -> dict:
    brokers = {}
    try:
        if ns.peer_bootstrap:
            brokers[PEER] = _brokers.External(PEER, ns.peer_bootstrap, ns.peer_pid)
        else:
            brokers[PEER] = _brokers.start_tansu(name=PEER)
        if ns.hpbroker_bootstrap:
            brokers[HP] = _brokers.External(HP, ns.hpbroker_bootstrap, ns.hpbroker_pid)
        else:
            brokers[HP] = _brokers.start_hpbroker(ns.hpbroker_cmd)
    except BaseException:
        for broker in brokers.values():
            broker.stop()
        raise
    return brokers


def _delete_round_topics(brokers: dict, topics: dict, progress) -> None:
    """Delete what a round produced. On some machines (balloon-backed VMs among them) writing
    new page-cache pages gets several times dearer once ~1 GB has been written since files were
    last deleted; deleting each round's data keeps every round in the same state."""
    from confluent_kafka.admin import AdminClient

    for name, broker in brokers.items():
        doomed = [topic for (owner, _), (topic, _) in topics.items() if owner == name]
        if not doomed:
            continue
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for topic, fut in admin.delete_topics(doomed, operation_timeout=30).items():
            try:
                fut.result(60)
            except Exception as exc:  # a peer without DeleteTopics: its data just stays
                progress.say(f"could not delete {topic} on {name}: {exc}")


def _median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def summarize(works: list[dict], runs: list[dict], floor_figures: list[dict] | None) -> list[dict]:
    """Medians per workload; ``floor_figures[k]`` is the floor measured at the start of round k."""
    rows = []
    for work in works:
        per = {name: [r for r in runs if r["workload"] == work["key"] and r["broker"] == name] for name in (HP, PEER)}
        hp = _median([r["figure"] for r in per[HP]])
        peer = _median([r["figure"] for r in per[PEER]])
        row = {
            "workload": work["name"],
            "metric": work["metric"],
            "target": work["target"],
            HP: hp,
            PEER: peer,
            "ratio": round(hp / peer, 3) if hp and peer else None,
        }
        for name in (HP, PEER):
            # A latency run moves a few MB: its CPU per GB is mostly idle-loop cost, not
            # a cost per byte, so it is kept in the JSON runs but not summarized.
            row[f"{name}_cpu_s_per_gb"] = _median([r["cpu_s_per_gb"] for r in per[name]]) if work["floor"] else None
        if floor_figures and work["floor"]:
            row["floor_cpu_s_per_gb"] = _median([f[work["floor"]]["cpu_s_per_gb"] for f in floor_figures])
            for name in (HP, PEER):
                # each run against the floor of its own round
                ratios = [
                    r["cpu_s_per_gb"] / floor_figures[r["round"]][work["floor"]]["cpu_s_per_gb"]
                    for r in per[name]
                    if r["cpu_s_per_gb"] is not None and floor_figures[r["round"]][work["floor"]]["cpu_s_per_gb"]
                ]
                row[f"{name}_x_floor"] = round(statistics.median(ratios), 2) if ratios else None
        rows.append(row)
    return rows


def markdown(rows: list[dict], floor_figures: list[dict] | None, rounds: int) -> str:
    def cell(value):
        return "-" if value is None else f"{value:g}"

    lines = [
        f"Medians of {rounds} round(s), alternating brokers. Ratio = hpbroker / peer "
        "(for latency lower is better). CPU = broker process tree, CPU-s per GB moved; "
        "x floor = median over the rounds of that CPU over the floor measured at the start "
        "of the same round.",
        "",
        "| workload | metric | hpbroker | peer | ratio | target | hpbroker CPU-s/GB (x floor) "
        "| peer CPU-s/GB (x floor) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        hp_cpu = f"{cell(row[f'{HP}_cpu_s_per_gb'])} ({cell(row.get(f'{HP}_x_floor'))})"
        peer_cpu = f"{cell(row[f'{PEER}_cpu_s_per_gb'])} ({cell(row.get(f'{PEER}_x_floor'))})"
        lines.append(
            f"| {row['workload']} | {row['metric']} | {cell(row[HP])} | {cell(row[PEER])} "
            f"| {cell(row['ratio'])} | {row['target']} | {hp_cpu} | {peer_cpu} |"
        )
    if floor_figures:

        def spread(way, key):
            values = [f[way][key] for f in floor_figures]
            return f"{_median(values):g} ({min(values):g}-{max(values):g})"

        lines += [
            "",
            f"Floor, each round (median, range): in (recv + append) {spread('in', 'gb_per_s')} GB/s, "
            f"{spread('in', 'cpu_s_per_gb')} CPU-s/GB; out (sendfile) {spread('out', 'gb_per_s')} "
            f"GB/s, {spread('out', 'cpu_s_per_gb')} CPU-s/GB.",
        ]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--hpbroker-cmd",
        default=_brokers.HPBROKER_CMD,
        help="command template with {python}, {port}, {data_dir} (default %(default)r)",
    )
    parser.add_argument("--hpbroker-bootstrap", help="use a running hpbroker instead of starting one")
    parser.add_argument("--hpbroker-pid", type=int, help="its pid, for CPU accounting")
    parser.add_argument("--peer-bootstrap", help="use a running peer (e.g. Apache Kafka) instead of Tansu")
    parser.add_argument("--peer-pid", type=int, help="its pid, for CPU accounting")
    parser.add_argument("--records-1k", type=int, default=200_000, help="records of the 1 KB produce")
    parser.add_argument("--records-100b", type=int, default=500_000, help="records of the 100 B produce")
    parser.add_argument("--producers", type=int, default=1, help="producer processes of the 1 KB produce")
    # One Python producer process makes ~1 M records/s of 100 B whatever the broker: with one,
    # the records/s comparison measures the client (both brokers tie at its limit;
    # docs/performance.md, "What limits them"). Two load the broker, whose cost per record then
    # decides.
    parser.add_argument(
        "--producers-100b",
        type=int,
        default=2,
        help="producer processes of the 100 B produce (records/s: one process is the limit)",
    )
    # librdkafka's own defaults (batch.size 1000000, linger.ms 5): what an unmodified
    # confluent-kafka producer sends. produce_perf's stand-alone default (128 KiB) is a tuning
    # choice; tuning.md, "batch.size and linger.ms", has figures at both.
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1_000_000,
        help="librdkafka batch.size of the produce workloads (default: the client's own)",
    )
    parser.add_argument(
        "--linger-ms",
        type=float,
        default=5,
        help="librdkafka linger.ms of the produce workloads (default: the client's own)",
    )
    parser.add_argument("--consumers", type=int, default=1, help="consumer processes")
    parser.add_argument("--e2e-rate", type=float, default=2000)
    parser.add_argument("--e2e-duration", type=float, default=5)
    parser.add_argument(
        "--floor-gb",
        type=float,
        default=0.5,
        help="GB each way of the floor measured at the start of every round; 0 skips it",
    )
    parser.add_argument("--floor-dir", default=None, help="default: the system temp directory")
    parser.add_argument(
        "--only", default=None, help="comma-separated workload keys to run: p1k,p100,c1k,e2e (c1k needs p1k)"
    )
    parser.add_argument(
        "--keep-topics", action="store_true", help="keep each round's topics (default: deleted after the round)"
    )
    _common.add_page_reporting_args(parser)
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--md-out", type=Path, default=None, help="default: beside the JSON")
    return parser


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    works = workloads(ns)
    if ns.only:
        keep = set(ns.only.split(","))
        works = [w for w in works if w["key"] in keep]
        if any(w["kind"] == "consume" and w["source"] not in keep for w in works):
            raise SystemExit("--only: the consume workload reads what p1k produced; add p1k")
    progress = _common.Progress("compare", interval=0)
    with _common.page_reporting_for(ns, progress.say):
        return _compare(ns, works, progress)


def _compare(ns, works, progress) -> int:
    started = time.monotonic()
    floor_figures = [] if ns.floor_gb > 0 else None
    try:
        brokers = start_brokers(ns)
    except (RuntimeError, FileNotFoundError) as exc:
        raise SystemExit(
            f"compare.py: {exc}\n(--hpbroker-bootstrap / --peer-bootstrap use brokers that are already running)"
        ) from None
    runs = []
    try:
        progress.say(f"hpbroker at {brokers[HP].bootstrap}, peer at {brokers[PEER].bootstrap}")
        for round_no in range(ns.rounds):
            if floor_figures is not None:
                floor_figures.append(
                    floor.measure(
                        int(ns.floor_gb * 1e9),
                        ns.floor_dir or tempfile.gettempdir(),
                        int(min(256e6, ns.floor_gb * 1e9)),
                    )
                )
                progress.say(
                    f"round {round_no + 1}/{ns.rounds} cost floor, {ns.floor_gb} GB each way: "
                    f"{floor.summary_line(floor_figures[-1])}"
                )
            order = [HP, PEER] if round_no % 2 == 0 else [PEER, HP]
            topics: dict = {}
            for work in works:
                for name in order:
                    outcome = run_workload(work, brokers[name], round_no, topics)
                    progress.say(
                        f"round {round_no + 1}/{ns.rounds} {work['name']} on {name}: "
                        f"{outcome['summary']}; broker CPU-s/GB {outcome['cpu_s_per_gb']}"
                    )
                    runs.append({"round": round_no, "workload": work["key"], "broker": name, **outcome})
            if not ns.keep_topics:
                _delete_round_topics(brokers, topics, progress)
    finally:
        for broker in brokers.values():
            broker.stop()
    rows = summarize(works, runs, floor_figures)
    table = markdown(rows, floor_figures, ns.rounds)
    path = _common.write_json(
        {
            "params": vars(ns),
            "floor": floor_figures,
            "summary": rows,
            "runs": runs,
            "brokers": {k: b.bootstrap for k, b in brokers.items()},
            "seconds": round(time.monotonic() - started, 1),
        },
        ns.json_out,
        "compare",
    )
    md_path = ns.md_out or path.with_suffix(".md")
    md_path.write_text(table)
    print(table)
    print(f"results: {path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
