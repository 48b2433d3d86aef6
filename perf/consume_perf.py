"""Consumer throughput: read a topic from the beginning with one or more consumer processes.

    python perf/consume_perf.py --bootstrap 127.0.0.1:9092 --topic perf-produce-... --consumers 2

Theory of operation: the target is --records, or else every record present when the run starts
(the sum of the high watermarks). Workers add what they read to one shared counter and stop when
the target is reached, or when they have read nothing for --idle-timeout seconds. With
--mode assign each worker is assigned a round-robin share of the partitions from the earliest
offset; with --mode group the workers join one new consumer group (auto.offset.reset=earliest)
and the broker's group coordinator spreads the partitions. Throughput is measured from the
consume() call that returned the first records (in any worker) to the last record, so group
joins and the idle tail do not count. The high watermarks come from the broker's ListOffsets;
a broker that under-reports them (Tansu 0.6 does) makes the run stop early, so give
--records when the count is known.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time

import _common

BATCH = 10_000  # consume(num_messages=...): one call into librdkafka per batch, not per record


def consumer_config(args: dict, group: str) -> dict:
    config = {
        "bootstrap.servers": args["bootstrap"],
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        # Some brokers hold a new group's first JoinGroup for up to the session timeout
        # (Tansu does, with librdkafka's 45 s default); 10 s keeps a group-mode run short.
        "session.timeout.ms": 10_000,
        # A broker that serves faster than this Python loop empties librdkafka's queue fills
        # it (queued.max.messages.kbytes, 64 MB), and librdkafka then stops fetching for
        # fetch.queue.backoff.ms, 1 s by default, so a run's time would depend on whether it
        # hit that wait (tuning.md, "Consumers"). 10 ms resumes fetching as
        # soon as the loop has made room, for any broker; -X overrides it.
        "fetch.queue.backoff.ms": 10,
    }
    config.update(args["client_config"])
    return config


def high_watermarks(args: dict) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(consumer_config(args, "perf-watermarks"))
    try:
        meta = consumer.list_topics(args["topic"], timeout=15).topics[args["topic"]]
        if meta.error is not None:
            raise RuntimeError(f"topic {args['topic']!r}: {meta.error}")
        return {
            p: consumer.get_watermark_offsets(TopicPartition(args["topic"], p), timeout=15)[1]
            for p in sorted(meta.partitions)
        }
    finally:
        consumer.close()


def _worker(
    index: int, args: dict, partitions: list[int], group: str, target: int, counter, ready, go, results
) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(consumer_config(args, group))
    consumer.list_topics(args["topic"], timeout=15)  # connected before the others are waited for
    ready.put(index)
    go.wait()
    # Assigned (or subscribed) only now: librdkafka starts fetching at assign(), and a worker
    # that started early would otherwise fill its queue while the others start.
    if args["mode"] == "assign":
        consumer.assign([TopicPartition(args["topic"], p, OFFSET_BEGINNING) for p in partitions])
    else:
        consumer.subscribe([args["topic"]])

    records = nbytes = errors = 0
    first = last = None
    idle_since = time.monotonic()
    progress = _common.Progress(f"consumer {index}", quiet=args["quiet"] or index != 0)
    consume = consumer.consume
    while counter.value < target:
        called = time.time()
        batch = consume(BATCH, 0.2)
        now = time.monotonic()
        if not batch:
            if now - idle_since > args["idle_timeout"]:
                break
            continue
        idle_since = now
        # The window opens when the call that returned the first records was made, so that
        # a run read in one batch still has a duration.
        first = first or called
        last = time.time()
        good = 0
        for msg in batch:
            if msg.error() is None:
                good += 1
                nbytes += len(msg)
            else:
                errors += 1
        records += good
        with counter.get_lock():
            counter.value += good
        progress.say(f"{counter.value}/{target} records read")
    consumer.close()
    results.put({"index": index, "records": records, "bytes": nbytes, "errors": errors, "first": first, "last": last})


def run(args: dict) -> dict:
    marks = high_watermarks(args)
    target = args["records"] or sum(marks.values())
    group = _common.unique_topic("perf-consume")
    k = args["consumers"]
    shares = [sorted(marks)[i::k] for i in range(k)]
    ctx = mp.get_context("spawn")
    ready, results, go, counter = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("q", 0)
    procs = [
        ctx.Process(target=_worker, daemon=True, args=(i, args, shares[i], group, target, counter, ready, go, results))
        for i in range(k)
    ]
    for proc in procs:
        proc.start()
    try:
        _common.gather(ready, procs, k, timeout=60)
        go.set()
        outcomes = _common.gather(results, procs, k, timeout=args["timeout"])
    finally:
        _common.stop_processes(procs)
    firsts = [o["first"] for o in outcomes if o["first"]]
    lasts = [o["last"] for o in outcomes if o["last"]]
    records = sum(o["records"] for o in outcomes)
    nbytes = sum(o["bytes"] for o in outcomes)
    seconds = (max(lasts) - min(firsts)) if firsts else 0.0
    return {
        "params": {key: v for key, v in args.items() if key != "quiet"},
        "target": target,
        "high_watermarks": marks,
        **_common.rate_summary(records, nbytes, seconds),
        "errors": sum(o["errors"] for o in outcomes),
        "workers": outcomes,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _common.add_common_args(parser, "consume_perf")
    parser.add_argument("--topic", required=True)
    parser.add_argument(
        "--records", type=int, default=0, help="stop after this many (default: everything present at the start)"
    )
    parser.add_argument("--consumers", type=int, default=1, help="consumer processes")
    parser.add_argument("--mode", choices=("assign", "group"), default="assign")
    parser.add_argument(
        "--idle-timeout", type=float, default=10.0, help="a worker stops after this many seconds without a record"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="give up on the whole run")
    return parser


def args_dict(ns: argparse.Namespace) -> dict:
    args = vars(ns).copy()
    args["client_config"] = _common.parse_client_config(args["client_config"])
    args.pop("json_out")
    return args


def summary_line(result: dict) -> str:
    return (
        f"{result['records']}/{result['target']} records in {result['seconds']:.2f}s: "
        f"{result['records_per_s']:.0f} records/s, {result['mb_per_s']:.1f} MB/s; "
        f"errors {result['errors']}"
    )


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    result = run(args_dict(ns))
    path = _common.write_json(result, ns.json_out, "consume_perf")
    print(summary_line(result))
    print(f"results: {path}")
    return 0 if result["records"] >= result["target"] and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
