"""Helpers for the consumer group tests: a broker tuned for fast rebalances, producing a keyed
set of records, and group consumers of the three client libraries."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

#: low initial delay and a lowered minimum session timeout keep rebalances and expiry fast
GROUP_BROKER_CONFIG = {
    "group.initial.rebalance.delay.ms": "200",
    "group.min.session.timeout.ms": "1000",
    "offsets.topic.num.partitions": "10",
}
SESSION_MS = 6000
HEARTBEAT_MS = 300
MAX_POLL_MS = 10000


def group_id() -> str:
    return f"grp-{uuid.uuid4().hex[:10]}"


def produce(bootstrap, topic, partitions, per_partition, start=0):
    """``per_partition`` records to each partition; values 'p:i'. Returns the count."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for part in range(partitions):
        for i in range(start, start + per_partition):
            p.produce(topic, f"{part}:{i}".encode(), partition=part)
    assert p.flush(15) == 0
    return partitions * per_partition


def wait_until(cond, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def is_clean_split(assignments: list[set[int]], partitions: int) -> bool:
    """Every member owns something, nobody shares, everything is owned."""
    if any(not a for a in assignments):
        return False
    union = set().union(*assignments)
    return union == set(range(partitions)) and sum(len(a) for a in assignments) == partitions


# -- confluent-kafka -----------------------------------------------------------------------------
def close_all(consumers, timeout: float = 60.0) -> None:
    """Close confluent consumers of one group together: every member leaves at once (closed one
    by one, each leave makes the remaining members rebalance in turn), and a close that does not
    return fails the test with the members named instead of hanging the suite (a client can
    stay inside close for many minutes while the broker sits idle)."""
    threads = [threading.Thread(target=c.close, daemon=True) for c in consumers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [i for i, t in enumerate(threads) if t.is_alive()]
    assert not stuck, f"Consumer.close() of members {stuck} did not return within {timeout:g} s"


def confluent_consumer(bootstrap, group, **extra):
    from confluent_kafka import Consumer

    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_MS,
        "heartbeat.interval.ms": HEARTBEAT_MS,
        "max.poll.interval.ms": MAX_POLL_MS,
        "enable.auto.commit": False,
    }
    conf.update(extra)
    return Consumer(conf)


# -- kafka-python: one thread per consumer (a join blocks inside poll) ----------------------------
class ThreadedMember:
    """A group consumer polling in its own thread; ``assignment`` and ``records`` are snapshots."""

    def __init__(self, make, topic):
        self._make = make
        self.topic = topic
        self.assignment: set[int] = set()
        self.records: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            consumer = self._make()
            consumer.subscribe([self.topic])
            try:
                while not self._stop.is_set():
                    batch = consumer.poll(timeout_ms=100)
                    for recs in batch.values():
                        self.records.extend((r.partition, r.offset) for r in recs)
                    self.assignment = {tp.partition for tp in consumer.assignment()}
            finally:
                consumer.close()
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def stop(self):
        self._stop.set()
        self.thread.join(20)
        assert not self.thread.is_alive(), "consumer thread did not stop"
        if self.error:
            raise self.error


def kafka_python_consumer(bootstrap, group, **extra):
    from kafka import KafkaConsumer

    conf = dict(
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        session_timeout_ms=SESSION_MS,
        heartbeat_interval_ms=HEARTBEAT_MS,
        max_poll_interval_ms=MAX_POLL_MS,
        enable_auto_commit=False,
        request_timeout_ms=30000,
    )
    conf.update(extra)
    return KafkaConsumer(**conf)


# -- aiokafka ------------------------------------------------------------------------------------
def aiokafka_consumer(bootstrap, group, **extra):
    from aiokafka import AIOKafkaConsumer

    conf = dict(
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        session_timeout_ms=SESSION_MS,
        heartbeat_interval_ms=HEARTBEAT_MS,
        max_poll_interval_ms=MAX_POLL_MS,
        rebalance_timeout_ms=MAX_POLL_MS,
        enable_auto_commit=False,
    )
    conf.update(extra)
    return AIOKafkaConsumer(**conf)


def run_async(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def groups_on_every_handler(handlers: int = 2, per_handler: int = 2, offsets_partitions: int = 10) -> list[str]:
    """Fresh group ids, ``per_handler`` of them coordinated by each of ``handlers`` handler
    processes (multi-process placement, ``routing.group_owner``; in-process mode coordinates
    them all), interleaved: handler 0's first, handler 1's first, ..., handler 0's second, ..."""
    from hpbroker.server.multiproc.routing import group_owner

    wanted: dict[int, list[str]] = {h: [] for h in range(handlers)}
    for _ in range(10_000):  # ~handlers * per_handler tries are enough when groups are spread
        if all(len(ids) >= per_handler for ids in wanted.values()):
            break
        g = group_id()
        ids = wanted[group_owner(g, offsets_partitions, handlers)]
        if len(ids) < per_handler:
            ids.append(g)
    else:
        raise AssertionError(f"group placement leaves handlers without groups: {wanted}")
    return [g for row in zip(*wanted.values()) for g in row]
