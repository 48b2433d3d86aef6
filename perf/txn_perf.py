"""Transactions: produce throughput of a transactional producer committing at fixed rates against
the idempotent producer, commit latency, and read_committed consumption against read_uncommitted.

    python perf/txn_perf.py --bootstrap 127.0.0.1:9092 --seconds 10 --commit-rates 1,10,100

Each workload produces as fast as one client process can for ``--seconds`` into a topic of its
own: ``idempotent`` (enable.idempotence, no transactions), then ``txn@R`` for each rate R (a
transaction committed every 1/R s; each commit_transaction call is timed). Then the topic of the
last ``txn@R`` workload is read from the start twice, at read_committed and read_uncommitted.
The summary line gives records/s of each, the ratio of txn@10 to idempotent, and commit
latency p50/p99 per rate.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from _common import (
    add_common_args,
    ensure_topic,
    parse_client_config,
    percentiles,
    rate_summary,
    unique_topic,
    write_json,
)

SCRIPT = "txn_perf"


def _produce(bootstrap, topic, seconds, size, config, commit_rate=None):
    """Produce for ``seconds``; (rate summary, commit latencies in ms)."""
    from confluent_kafka import Producer

    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.size": 131072, **config}
    if commit_rate is None:
        conf["enable.idempotence"] = True
    else:
        conf["transactional.id"] = f"txn-perf-{uuid.uuid4().hex[:8]}"
    p = Producer(conf)
    if commit_rate is not None:
        p.init_transactions(30)
        p.begin_transaction()
    value = b"x" * size
    sent = 0
    latencies = []
    start = time.monotonic()
    end = start + seconds
    next_commit = start + (1.0 / commit_rate if commit_rate else seconds * 10)
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if commit_rate is not None and now >= next_commit:
            t0 = time.perf_counter()
            p.commit_transaction(30)  # flushes what is queued, then EndTxn
            latencies.append((time.perf_counter() - t0) * 1000)
            p.begin_transaction()
            next_commit += 1.0 / commit_rate
        try:
            p.produce(topic, value)
            sent += 1
        except BufferError:
            p.poll(0.001)
            continue
        if sent % 1000 == 0:
            p.poll(0)
    if commit_rate is not None:
        p.commit_transaction(30)
    else:
        p.flush(60)
    elapsed = time.monotonic() - start
    return rate_summary(sent, sent * size, elapsed), latencies


def _consume(bootstrap, topic, isolation, config, timeout=120.0):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"txn-perf-{uuid.uuid4().hex[:8]}",
            "isolation.level": isolation,
            "enable.partition.eof": True,
            "enable.auto.commit": False,
            **config,
        }
    )
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    done, records, nbytes = set(), 0, 0
    start = time.monotonic()
    while len(done) < len(parts) and time.monotonic() - start < timeout:
        for m in c.consume(1000, 0.5):
            if m.error() is None:
                records += 1
                nbytes += len(m.value())
            elif m.error().code() == KafkaError._PARTITION_EOF:
                done.add(m.partition())
    elapsed = time.monotonic() - start
    c.close()
    return rate_summary(records, nbytes, elapsed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, SCRIPT)
    parser.add_argument("--seconds", type=float, default=10.0, help="per produce workload (default %(default)s)")
    parser.add_argument("--record-size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--commit-rates", default="1,10,100", help="transactions committed per second")
    ns = parser.parse_args(argv)
    config = parse_client_config(ns.client_config)
    rates = [float(r) for r in ns.commit_rates.split(",") if r.strip()]
    result: dict = {"workloads": {}}
    topic = unique_topic("txn-perf-idem")
    ensure_topic(ns.bootstrap, topic, ns.partitions, config)
    summary, _ = _produce(ns.bootstrap, topic, ns.seconds, ns.record_size, config)
    result["workloads"]["idempotent"] = summary
    if not ns.quiet:
        print(f"[{SCRIPT}] idempotent: {summary['records_per_s']:.0f} records/s", file=sys.stderr, flush=True)
    last_topic = None
    for rate in rates:
        topic = unique_topic(f"txn-perf-{rate:g}")
        ensure_topic(ns.bootstrap, topic, ns.partitions, config)
        summary, latencies = _produce(ns.bootstrap, topic, ns.seconds, ns.record_size, config, rate)
        summary["commits"] = len(latencies)
        summary["commit_ms"] = {k: round(v, 2) if v is not None else None for k, v in percentiles(latencies).items()}
        result["workloads"][f"txn@{rate:g}"] = summary
        last_topic = topic
        if not ns.quiet:
            print(
                f"[{SCRIPT}] txn@{rate:g}/s: {summary['records_per_s']:.0f} records/s, "
                f"commit p50 {summary['commit_ms']['p50']} ms p99 {summary['commit_ms']['p99']} ms",
                file=sys.stderr,
                flush=True,
            )
    if last_topic is not None:
        result["read_committed"] = _consume(ns.bootstrap, last_topic, "read_committed", config)
        result["read_uncommitted"] = _consume(ns.bootstrap, last_topic, "read_uncommitted", config)
    idem = result["workloads"]["idempotent"]["records_per_s"]
    ten = result["workloads"].get("txn@10")
    if ten is not None and idem:
        result["txn10_vs_idempotent"] = round(ten["records_per_s"] / idem, 3)
    path = write_json(result, ns.json_out, SCRIPT)
    parts = [f"idempotent {idem:.0f} rec/s"]
    for rate in rates:
        w = result["workloads"][f"txn@{rate:g}"]
        parts.append(
            f"txn@{rate:g} {w['records_per_s']:.0f} rec/s (commit p50 {w['commit_ms']['p50']} p99 {w['commit_ms']['p99']} ms)"
        )
    if "read_committed" in result:
        parts.append(
            f"read_committed {result['read_committed']['records_per_s']:.0f} rec/s, "
            f"read_uncommitted {result['read_uncommitted']['records_per_s']:.0f} rec/s"
        )
    if "txn10_vs_idempotent" in result:
        parts.append(f"txn@10/idempotent {result['txn10_vs_idempotent']}")
    print("; ".join(parts) + f"  ({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
