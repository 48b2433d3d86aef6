"""Produce-to-consume latency at a fixed record rate.

    python perf/e2e_latency.py --bootstrap 127.0.0.1:9092 --rate 2000 --duration 10 --acks all

Theory of operation: a consumer process is assigned every partition of the topic at its log
end offset and says it is ready; the producer (this process)
sends --rate records/s for --warmup + --duration seconds, each record carrying its send time
(time.time_ns, one clock on one host) and a warm-up flag. The consumer's latency of a record is
its receive time minus the embedded send time; warm-up records are not counted, so connection
set-up and first-batch effects stay out of the percentiles. Producer and consumer run in
separate processes so neither waits for the other's share of the GIL. Records are paced on an
absolute schedule (start + i/rate), so a slow moment is caught up rather than lowering the rate.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import struct
import sys
import time
from array import array

import _common

HEADER = struct.Struct(">qB")  # send time in ns, warm-up flag


def _consumer(args: dict, partitions: list[int], ready, producer_done, expected, results) -> None:
    from confluent_kafka import Consumer, TopicPartition

    config = {
        "bootstrap.servers": args["bootstrap"],
        "group.id": "perf-e2e",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        # Ask the broker to answer as soon as one byte is there; the latency measured
        # should be the broker's, not a client-side wait.
        "fetch.wait.max.ms": 100,
        "fetch.min.bytes": 1,
    }
    config.update(args["client_config"])
    consumer = Consumer(config)
    # Start at the current log end, looked up explicitly: assigning OFFSET_END resolves
    # lazily, and records sent before it resolved would be skipped.
    consumer.assign(
        [
            TopicPartition(args["topic"], p, consumer.get_watermark_offsets(TopicPartition(args["topic"], p), 15)[1])
            for p in partitions
        ]
    )
    ready.set()

    latencies = array("d")
    seen = warmup = 0
    idle_since = None
    while True:
        # poll() returns each record as soon as it is fetched; consume(n, timeout) would hold
        # records back until n arrived or the timeout passed, adding that wait to the latency.
        msg = consumer.poll(0.05)
        if msg is not None and msg.error() is None:
            now = time.time_ns()
            sent, is_warmup = HEADER.unpack_from(msg.value())
            seen += 1
            if is_warmup:
                warmup += 1
            else:
                latencies.append((now - sent) / 1e6)
        if producer_done.is_set():
            if seen >= expected.value:
                break
            if msg is not None:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > args["idle_timeout"]:
                break
    consumer.close()
    results.put({"seen": seen, "warmup": warmup, "latencies": latencies.tobytes()})


def _produce(args: dict, consumer_proc, progress: _common.Progress) -> dict:
    from confluent_kafka import Producer

    errors = []
    delivery = array("d")

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivery.append(msg.latency() * 1000)

    config = {
        "bootstrap.servers": args["bootstrap"],
        "acks": args["acks"],
        "linger.ms": args["linger_ms"],
        "on_delivery": on_delivery,
    }
    config.update(args["client_config"])
    producer = Producer(config)
    producer.list_topics(args["topic"], timeout=15)
    partitions = args["partitions"]
    pad = b"\0" * max(0, args["record_size"] - HEADER.size)
    total = int(args["rate"] * (args["warmup"] + args["duration"]))
    warmup_count = int(args["rate"] * args["warmup"])
    interval = 1.0 / args["rate"]
    start = time.monotonic()
    for i in range(total):
        due = start + i * interval
        while True:
            wait = due - time.monotonic()
            if wait <= 0:
                break
            producer.poll(wait)  # serves delivery reports while waiting for the next slot
        value = HEADER.pack(time.time_ns(), i < warmup_count) + pad
        producer.produce(args["topic"], value, partition=i % partitions)
        producer.poll(0)
        if progress.due():
            progress.say(f"{i}/{total} records sent")
        if not consumer_proc.is_alive():
            raise RuntimeError("the consumer process died")
    producer.flush(30)
    elapsed = time.monotonic() - start
    return {
        "sent": total,
        "warmup_sent": warmup_count,
        "achieved_rate": round(total / elapsed, 1),
        "errors": len(errors),
        "first_errors": errors[:5],
        "delivery_latency_ms": {
            k: None if v is None else round(v, 3) for k, v in _common.percentiles(delivery).items()
        },
    }


def run(args: dict) -> dict:
    partitions = _common.ensure_topic(args["bootstrap"], args["topic"], args["partitions"], args["client_config"])
    args = {**args, "partitions": partitions}
    ctx = mp.get_context("spawn")
    ready, producer_done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    expected = ctx.Value("q", 1 << 62)
    proc = ctx.Process(
        target=_consumer, daemon=True, args=(args, list(range(partitions)), ready, producer_done, expected, results)
    )
    proc.start()
    progress = _common.Progress("e2e", quiet=args["quiet"])
    try:
        if not ready.wait(30):
            raise RuntimeError("the consumer did not get its positions in 30s")
        produced = _produce(args, proc, progress)
        expected.value = produced["sent"]
        producer_done.set()
        outcome = _common.gather(results, [proc], 1, timeout=args["idle_timeout"] + 60)[0]
    finally:
        _common.stop_processes([proc])
    latencies = array("d")
    latencies.frombytes(outcome.pop("latencies"))
    stats = _common.percentiles(latencies, (50, 99, 99.9, 100))
    return {
        "params": {k: v for k, v in args.items() if k != "quiet"},
        **produced,
        **outcome,
        "measured": len(latencies),
        "lost": produced["sent"] - outcome["seen"],
        "latency_ms": {k: None if v is None else round(v, 3) for k, v in stats.items()},
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _common.add_common_args(parser, "e2e_latency")
    parser.add_argument("--topic", default=None, help="default: a new topic perf-e2e-<time>")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--rate", type=float, default=2000, help="records per second")
    parser.add_argument("--duration", type=float, default=10, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1, help="seconds sent but not measured")
    parser.add_argument("--record-size", type=int, default=100)
    parser.add_argument("--acks", default="all", choices=("0", "1", "all", "-1"))
    parser.add_argument("--linger-ms", type=float, default=0)
    parser.add_argument(
        "--idle-timeout", type=float, default=10, help="after the producer is done, stop when nothing arrives this long"
    )
    return parser


def args_dict(ns: argparse.Namespace) -> dict:
    args = vars(ns).copy()
    args["client_config"] = _common.parse_client_config(args["client_config"])
    args["topic"] = args["topic"] or _common.unique_topic("perf-e2e")
    args.pop("json_out")
    return args


def summary_line(result: dict) -> str:
    lat = result["latency_ms"]
    return (
        f"{result['measured']} records measured at {result['achieved_rate']:.0f}/s "
        f"(lost {result['lost']}): e2e latency ms p50 {lat['p50']} p99 {lat['p99']} "
        f"p99.9 {lat['p99.9']} max {lat['max']}"
    )


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    result = run(args_dict(ns))
    path = _common.write_json(result, ns.json_out, "e2e_latency")
    print(summary_line(result))
    print(f"results: {path}")
    return 0 if result["lost"] == 0 and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
