"""Producer throughput and delivery latency against any Kafka-protocol broker.

    python perf/produce_perf.py --bootstrap 127.0.0.1:9092 --records 1000000 --record-size 100 \
        --acks 1 --partitions 6 --producers 2

Theory of operation: one Python process cannot saturate a broker (produce() costs about a
microsecond of interpreter time per record), so --producers K starts K worker processes, each
with its own confluent-kafka Producer and an equal share of the records. Workers connect and
fetch metadata first, then all start on one event so the measured window is the common one:
throughput = all records / (last worker end - first worker start). Payloads are generated
before the clock starts; the loop calls produce() and only polls every few thousand records or
when librdkafka's queue is full (BufferError). The delivery latency of a record is librdkafka's
own Message.latency() (produce() to delivery report), collected in a compact array.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from array import array

import _common

COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")
POLL_EVERY = 4096  # records between poll(0): serves delivery reports without per-record cost
DISTINCT_PAYLOADS = 64  # varied payloads so compression does not see one repeated record


def producer_config(args) -> dict:
    config = {
        "bootstrap.servers": args["bootstrap"],
        "acks": args["acks"],
        "batch.size": args["batch_size"],
        "linger.ms": args["linger_ms"],
        "compression.type": args["compression"],
        "enable.idempotence": args["idempotence"],
        # Room for a whole batch per partition plus backlog: the loop should block on the broker,
        # not on librdkafka's default local queue limits.
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
    }
    config.update(args["client_config"])
    return config


def make_payloads(size: int, seed: int) -> list[bytes]:
    """Half random, half repeated bytes: compressible about 2:1, like typical log records."""
    rnd = os.urandom(size * DISTINCT_PAYLOADS)
    half = size // 2
    return [
        rnd[i * size : i * size + size - half] + bytes([65 + (i + seed) % 26]) * half for i in range(DISTINCT_PAYLOADS)
    ]


def _worker(index: int, args: dict, records: int, ready, go, results) -> None:
    from confluent_kafka import Producer

    latencies = array("d")
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            latencies.append(msg.latency())

    producer = Producer({**producer_config(args), "on_delivery": on_delivery})
    producer.list_topics(args["topic"], timeout=15)  # connect before the clock starts
    payloads = make_payloads(args["record_size"], index)
    partitions = args["partitions"]
    ready.put(index)
    go.wait()

    produce, poll, topic = producer.produce, producer.poll, args["topic"]
    npay = len(payloads)
    start = time.time()
    progress = _common.Progress(f"producer {index}", quiet=args["quiet"] or index != 0)
    for i in range(records):
        payload = payloads[i % npay]
        part = i % partitions
        try:
            produce(topic, payload, partition=part)
        except BufferError:
            # librdkafka's local queue is full: serve delivery reports until it has room.
            while True:
                poll(0.005)
                try:
                    produce(topic, payload, partition=part)
                    break
                except BufferError:
                    continue
        if i % POLL_EVERY == 0:
            poll(0)
            if progress.due():
                progress.say(f"{i}/{records} records queued, {len(latencies)} delivered")
    remaining = producer.flush(args["flush_timeout"])
    end = time.time()
    results.put(
        {
            "index": index,
            "records": records,
            "start": start,
            "end": end,
            "delivered": len(latencies),
            "errors": len(errors),
            "first_errors": errors[:5],
            "undelivered": remaining,
            "latencies": latencies.tobytes(),
        }
    )


def run(args: dict) -> dict:
    """Run one produce test; ``args`` has the keys of the command-line options (see main)."""
    _common.ensure_topic(args["bootstrap"], args["topic"], args["partitions"], args["client_config"])
    ctx = mp.get_context("spawn")  # fork after librdkafka threads exist is unsafe
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    k = args["producers"]
    shares = [args["records"] // k + (1 if i < args["records"] % k else 0) for i in range(k)]
    procs = [ctx.Process(target=_worker, args=(i, args, shares[i], ready, go, results), daemon=True) for i in range(k)]
    for proc in procs:
        proc.start()
    try:
        _common.gather(ready, procs, k, timeout=60)
        go.set()
        outcomes = _common.gather(results, procs, k, timeout=args["flush_timeout"] + 3600)
    finally:
        _common.stop_processes(procs)
    latencies = array("d")
    for outcome in outcomes:
        latencies.frombytes(outcome.pop("latencies"))
    start = min(o["start"] for o in outcomes)
    end = max(o["end"] for o in outcomes)
    delivered = sum(o["delivered"] for o in outcomes)
    result = {
        "params": {key: value for key, value in args.items() if key != "quiet"},
        **_common.rate_summary(delivered, delivered * args["record_size"], end - start),
        "errors": sum(o["errors"] for o in outcomes),
        "undelivered": sum(o["undelivered"] for o in outcomes),
        "first_errors": [e for o in outcomes for e in o["first_errors"]][:5],
        "latency_ms": {
            key: (None if v is None else round(v * 1000, 3))
            for key, v in _common.percentiles(latencies, (50, 95, 99, 100)).items()
        },
        "workers": outcomes,
    }
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _common.add_common_args(parser, "produce_perf")
    parser.add_argument("--topic", default=None, help="default: a new topic perf-produce-<time>")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--record-size", type=int, default=1000, help="bytes per record value")
    parser.add_argument("--acks", default="1", choices=("0", "1", "all", "-1"))
    parser.add_argument("--batch-size", type=int, default=131072, help="librdkafka batch.size")
    parser.add_argument("--linger-ms", type=float, default=5)
    parser.add_argument("--compression", default="none", choices=COMPRESSIONS)
    parser.add_argument(
        "--partitions", type=int, default=1, help="created with this many if missing; records go round-robin"
    )
    parser.add_argument("--idempotence", action="store_true", help="enable.idempotence=true")
    parser.add_argument("--producers", type=int, default=1, help="producer processes")
    parser.add_argument("--flush-timeout", type=float, default=120)
    return parser


def args_dict(ns: argparse.Namespace) -> dict:
    if ns.idempotence and ns.acks not in ("all", "-1"):
        raise SystemExit("--idempotence needs --acks all (a Kafka client rule)")
    args = vars(ns).copy()
    args["client_config"] = _common.parse_client_config(args["client_config"])
    args["topic"] = args["topic"] or _common.unique_topic("perf-produce")
    args.pop("json_out")
    return args


def summary_line(result: dict) -> str:
    lat = result["latency_ms"]
    return (
        f"{result['records']} records in {result['seconds']:.2f}s: "
        f"{result['records_per_s']:.0f} records/s, {result['mb_per_s']:.1f} MB/s; "
        f"delivery latency ms p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} max {lat['max']}; "
        f"errors {result['errors']}"
    )


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    args = args_dict(ns)
    result = run(args)
    path = _common.write_json(result, ns.json_out, "produce_perf")
    print(summary_line(result))
    print(f"results: {path}")
    return 0 if result["errors"] == 0 and result["undelivered"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
