"""Producer-knob sweep: batch.size x linger.ms x compression x record size, over produce_perf.

    python perf/sweep.py --bootstrap 127.0.0.1:9092 --batch-sizes 16384,131072,1048576 \
        --linger-ms 0,5,50 --compressions none,lz4,zstd --record-sizes 100,1000 --out perf/results/sweep

Every grid point is a short produce_perf run (--mb-per-run of data, a fresh topic each). With
--rounds N the whole grid is run N times over and each point reports the median of its N runs
(a grid point takes about a second, so one run is at the mercy of a neighbour's load); with
--broker-pid the CPU time of the broker's process tree is sampled around every run and
reported as CPU-s per GB produced. Writes results.json (every single run too), results.md (one
table row per point) and PNG plots (one per record size:
throughput and p99 delivery latency against batch.size, a line per linger.ms x compression) into
--out. tuning.md embeds committed copies of the plots, so the default grid stays small enough to
finish in a few minutes.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

import _common
import produce_perf


def grid(ns) -> list[dict]:
    return [
        {"batch_size": b, "linger_ms": linger, "compression": c, "record_size": s}
        for s, c, linger, b in itertools.product(ns.record_sizes, ns.compressions, ns.linger_ms, ns.batch_sizes)
    ]


def run_point(ns, point: dict) -> dict:
    records = max(1, int(ns.mb_per_run * 1e6 // point["record_size"]))
    argv = [
        "--bootstrap",
        ns.bootstrap,
        "--quiet",
        "--records",
        str(records),
        "--record-size",
        str(point["record_size"]),
        "--batch-size",
        str(point["batch_size"]),
        "--linger-ms",
        str(point["linger_ms"]),
        "--compression",
        point["compression"],
        "--acks",
        ns.acks,
        "--partitions",
        str(ns.partitions),
        "--producers",
        str(ns.producers),
    ]
    for pair in ns.client_config:
        argv += ["-X", pair]
    args = produce_perf.args_dict(produce_perf.build_parser().parse_args(argv))
    cpu0 = _common.tree_cpu_sample(ns.broker_pid) if ns.broker_pid else None
    result = produce_perf.run(args)
    cpu = _common.cpu_seconds_between(cpu0, _common.tree_cpu_sample(ns.broker_pid)) if ns.broker_pid else None
    return {
        **point,
        "records": result["records"],
        "records_per_s": result["records_per_s"],
        "mb_per_s": result["mb_per_s"],
        "p50_ms": result["latency_ms"]["p50"],
        "p99_ms": result["latency_ms"]["p99"],
        "errors": result["errors"],
        "cpu_s_per_gb": None if cpu is None or not result["bytes"] else round(cpu / (result["bytes"] / 1e9), 3),
    }


FIGURES = ("records_per_s", "mb_per_s", "p50_ms", "p99_ms", "cpu_s_per_gb")


def median_row(runs: list[dict]) -> dict:
    """One row per grid point: the median of each figure over the rounds, errors summed."""
    row = dict(runs[0])
    for key in FIGURES:
        values = [r[key] for r in runs if r[key] is not None]
        row[key] = round(statistics.median(values), 3) if values else None
    row["errors"] = sum(r["errors"] for r in runs)
    row["rounds"] = len(runs)
    return row


def markdown(rows: list[dict]) -> str:
    cols = [
        "record_size",
        "compression",
        "linger_ms",
        "batch_size",
        "records_per_s",
        "mb_per_s",
        "p50_ms",
        "p99_ms",
        "cpu_s_per_gb",
        "errors",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += [
        "| " + " | ".join(f"{row[c]:g}" if isinstance(row[c], float) else str(row[c]) for c in cols) + " |"
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], out: Path, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a server
    import matplotlib.pyplot as plt

    paths = []
    for size in sorted({r["record_size"] for r in rows}):
        fig, (thr, lat) = plt.subplots(1, 2, figsize=(11, 4.2))
        subset = [r for r in rows if r["record_size"] == size]
        for comp, linger in sorted({(r["compression"], r["linger_ms"]) for r in subset}):
            line = sorted(
                (r for r in subset if r["compression"] == comp and r["linger_ms"] == linger),
                key=lambda r: r["batch_size"],
            )
            xs = [r["batch_size"] / 1024 for r in line]
            label = f"{comp}, linger {linger:g} ms"
            thr.plot(xs, [r["mb_per_s"] for r in line], marker="o", label=label)
            lat.plot(xs, [r["p99_ms"] for r in line], marker="o", label=label)
        for ax, ylabel in ((thr, "MB/s (uncompressed)"), (lat, "p99 delivery latency, ms")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("batch.size, KiB")
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
        thr.legend(fontsize=7)
        fig.suptitle(f"{title}: {size} B records")
        fig.tight_layout()
        path = out / f"sweep-{size}B.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", metavar="HOST:PORT")
    parser.add_argument("--batch-sizes", type=_common.csv_list(int), default=[16384, 131072, 1048576])
    parser.add_argument("--linger-ms", type=_common.csv_list(float), default=[0, 5])
    parser.add_argument("--compressions", type=_common.csv_list(str), default=["none", "lz4"])
    parser.add_argument("--record-sizes", type=_common.csv_list(int), default=[100, 1000])
    parser.add_argument("--mb-per-run", type=float, default=30, help="data produced per grid point")
    parser.add_argument("--acks", default="1", choices=("0", "1", "all", "-1"))
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--producers", type=int, default=1)
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the grid this many times; each point reports its median"
    )
    parser.add_argument(
        "--broker-pid", type=int, default=None, help="broker pid: report its process tree's CPU-s per GB produced"
    )
    parser.add_argument("-X", dest="client_config", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--title", default="produce sweep", help="plot title prefix, e.g. the broker")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR / "sweep")
    return parser


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    bad = set(ns.compressions) - set(produce_perf.COMPRESSIONS)
    if bad:
        raise SystemExit(f"unknown compression {sorted(bad)}; choose from {produce_perf.COMPRESSIONS}")
    ns.out.mkdir(parents=True, exist_ok=True)
    points = grid(ns)
    progress = _common.Progress("sweep", interval=0)
    runs: list[list[dict]] = [[] for _ in points]
    for round_no in range(ns.rounds):
        for n, point in enumerate(points):
            row = run_point(ns, point)
            runs[n].append(row)
            progress.say(
                f"round {round_no + 1}/{ns.rounds} {n + 1}/{len(points)} {point}: "
                f"{row['mb_per_s']} MB/s, p99 {row['p99_ms']} ms, "
                f"broker CPU-s/GB {row['cpu_s_per_gb']}"
            )
    rows = [median_row(r) for r in runs]
    table = markdown(rows)
    (ns.out / "results.md").write_text(table)
    _common.write_json(
        {
            "params": {k: str(v) for k, v in vars(ns).items()},
            "rows": rows,
            "runs": [r for point_runs in runs for r in point_runs],
        },
        ns.out / "results.json",
        "sweep",
    )
    plots = plot(rows, ns.out, ns.title)
    print(table)
    print(f"results: {ns.out / 'results.md'}, {ns.out / 'results.json'}, " + ", ".join(str(p) for p in plots))
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
