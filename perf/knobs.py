"""Broker and producer knobs, measured alternately in one run: one broker per setting, the same
produce / consume / end-to-end workloads on each, round after round.

    python perf/knobs.py --rounds 3 --setting default= \\
        --setting seg16M=log.segment.bytes=16777216 \\
        --setting flush1=log.flush.interval.messages=1
    python perf/knobs.py --rounds 3 --tansu --no-consume --no-e2e \\
        --variant acks0="--acks 0" --variant acks1="--acks 1" --variant idem="--acks all --idempotence"

Theory of operation: every ``--setting LABEL=NAME=VALUE,NAME=VALUE`` starts its own hpbroker
with those ``--override``s (an empty list is the defaults); ``--tansu`` adds the Tansu peer as
one more setting. All brokers run for the whole measurement, idle when it is not their turn.
Each round runs every setting in turn, the order rotated by one every round, so a neighbour's
load or a page-cache drift falls on all settings alike; each figure is the median over rounds.
Per setting and ``--variant`` (produce_perf arguments; default: 1 partition, 1 KB records,
acks=1) a round is: produce into a new topic, read that topic back from the beginning
(consume_perf), and once per round an e2e_latency run. CPU is the broker's process tree
(psutil), sampled around each workload, per GB moved.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import _brokers
import _common
import consume_perf
import e2e_latency
import produce_perf

DEFAULT_PRODUCE = "--partitions 1 --record-size 1000 --acks 1 --records 200000"


def parse_setting(text: str) -> tuple[str, list[str]]:
    label, sep, overrides = text.partition("=")
    if not sep or not label:
        raise argparse.ArgumentTypeError(f"--setting expects LABEL=NAME=VALUE,..., got {text!r}")
    return label, [o for o in overrides.split(",") if o]


def parse_variant(text: str) -> tuple[str, list[str]]:
    label, sep, argv = text.partition("=")
    if not sep or not label:
        raise argparse.ArgumentTypeError(f"--variant expects LABEL=ARGS, got {text!r}")
    return label, shlex.split(argv)


def start(label: str, overrides: list[str], port: int):
    if label == "tansu":
        return _brokers.start_tansu(port=port, name="tansu")
    command = _brokers.HPBROKER_CMD + "".join(f" --override {shlex.quote(o)}" for o in overrides)
    broker = _brokers.start_hpbroker(command, port=port)
    broker.name = label
    return broker


def measure(module, argv: list[str], pid: int):
    args = module.args_dict(module.build_parser().parse_args(argv))
    cpu0 = _common.tree_cpu_sample(pid)
    result = module.run(args)
    return args, result, _common.cpu_seconds_between(cpu0, _common.tree_cpu_sample(pid))


def per_gb(cpu: float, nbytes: int):
    return round(cpu / (nbytes / 1e9), 3) if nbytes else None


def one_round(ns, label: str, broker, round_no: int) -> list[dict]:
    out = []
    base = ["--bootstrap", broker.bootstrap, "--quiet"]
    for variant, vargv in ns.variants:
        topic = f"knobs-{variant}-r{round_no}-{int(time.time() * 1000)}"
        args, res, cpu = measure(produce_perf, base + ["--topic", topic] + vargv, broker.pid)
        row = {
            "setting": label,
            "variant": variant,
            "round": round_no,
            "produce_mb_per_s": res["mb_per_s"],
            "produce_records_per_s": res["records_per_s"],
            "produce_p50_ms": res["latency_ms"]["p50"],
            "produce_p99_ms": res["latency_ms"]["p99"],
            "produce_cpu_s_per_gb": per_gb(cpu, res["bytes"]),
            "errors": res["errors"],
        }
        if ns.consume:
            _, cres, ccpu = measure(
                consume_perf,
                base + ["--topic", topic, "--records", str(res["records"]), "--idle-timeout", "10"],
                broker.pid,
            )
            row.update(consume_mb_per_s=cres["mb_per_s"], consume_cpu_s_per_gb=per_gb(ccpu, cres["bytes"]))
        out.append(row)
    if ns.e2e:
        _, eres, _ = measure(
            e2e_latency,
            base + ["--rate", str(ns.e2e_rate), "--duration", str(ns.e2e_duration), "--warmup", "1", "--acks", "all"],
            broker.pid,
        )
        lat = eres["latency_ms"]
        out.append(
            {
                "setting": label,
                "variant": "e2e",
                "round": round_no,
                "e2e_p50_ms": lat["p50"],
                "e2e_p99_ms": lat["p99"],
                "e2e_p99.9_ms": lat["p99.9"],
            }
        )
    return out


FIGURES = (
    "produce_mb_per_s",
    "produce_records_per_s",
    "produce_p50_ms",
    "produce_p99_ms",
    "produce_cpu_s_per_gb",
    "consume_mb_per_s",
    "consume_cpu_s_per_gb",
    "e2e_p50_ms",
    "e2e_p99_ms",
    "e2e_p99.9_ms",
)


def summarize(rows: list[dict]) -> list[dict]:
    keys = list(dict.fromkeys((r["setting"], r["variant"]) for r in rows))
    out = []
    for setting, variant in keys:
        group = [r for r in rows if r["setting"] == setting and r["variant"] == variant]
        med = {"setting": setting, "variant": variant, "rounds": len(group)}
        for key in FIGURES:
            values = [r[key] for r in group if r.get(key) is not None]
            if values:
                med[key] = round(statistics.median(values), 3)
        out.append(med)
    return out


def markdown(summary: list[dict]) -> str:
    cols = [c for c in FIGURES if any(c in s for s in summary)]
    lines = ["| setting | variant | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for s in summary:
        lines.append(
            f"| {s['setting']} | {s['variant']} | " + " | ".join(f"{s[c]:g}" if c in s else "" for c in cols) + " |"
        )
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--setting",
        dest="settings",
        type=parse_setting,
        action="append",
        default=[],
        help="LABEL=NAME=VALUE,... hpbroker overrides; repeatable",
    )
    parser.add_argument("--tansu", action="store_true", help="add the Tansu peer as a setting")
    parser.add_argument(
        "--variant",
        dest="variants",
        type=parse_variant,
        action="append",
        default=[],
        help=f"LABEL=produce_perf args (default {DEFAULT_PRODUCE!r})",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-consume", dest="consume", action="store_false")
    parser.add_argument("--no-e2e", dest="e2e", action="store_false")
    parser.add_argument("--e2e-rate", type=float, default=2000)
    parser.add_argument("--e2e-duration", type=float, default=5)
    parser.add_argument("--base-port", type=int, default=0, help="first broker port (0: any free)")
    parser.add_argument("--json-out", type=Path, default=None)
    return parser


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    ns.settings = ns.settings or [("default", [])]
    if ns.tansu:
        ns.settings.append(("tansu", []))
    ns.variants = ns.variants or [("p1k-acks1", shlex.split(DEFAULT_PRODUCE))]
    progress = _common.Progress("knobs", interval=0)
    brokers = {}
    rows: list[dict] = []
    try:
        for i, (label, overrides) in enumerate(ns.settings):
            port = ns.base_port + i if ns.base_port else None
            brokers[label] = start(label, overrides, port)
            progress.say(f"{label}: {brokers[label].bootstrap} pid {brokers[label].pid} {overrides}")
        labels = [label for label, _ in ns.settings]
        for round_no in range(ns.rounds):
            shift = round_no % len(labels)
            for label in labels[shift:] + labels[:shift]:
                for row in one_round(ns, label, brokers[label], round_no):
                    rows.append(row)
                    progress.say(f"round {round_no + 1}/{ns.rounds} {row}")
    finally:
        for broker in brokers.values():
            broker.stop()
    summary = summarize(rows)
    table = markdown(summary)
    path = _common.write_json(
        {"settings": ns.settings, "variants": ns.variants, "summary": summary, "runs": rows, "pid": os.getpid()},
        ns.json_out,
        "knobs",
    )
    path.with_suffix(".md").write_text(table)
    print(table)
    print(f"results: {path}")
    return 0 if all(r.get("errors", 0) == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
