"""The log cleaner seen from real clients: a compacted topic keeps the latest value of each key
(offsets unchanged), tombstones go after delete.retention.ms, and a consumer reading while
passes swap files (in the multi-process mode, from another process) sees only records that were
produced, in offset order."""

import threading
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from hpbroker.testing import wait_until
from tests.integration.conftest import create_topic, mode_broker

pytestmark = pytest.mark.integration

CLEANER = {"log.cleaner.backoff.ms": "100"}
TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.bytes": "2048",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "0",
}


@pytest.fixture(scope="module")
def cbroker():
    with mode_broker(config=CLEANER) as b:
        yield b


def _produce(bootstrap, topic, items):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    for k, v in items:
        p.produce(topic, key=k, value=v)
        p.poll(0)
    assert p.flush(15) == 0


def _read_all(bootstrap, topic, timeout=10.0):
    """Everything from the beginning to the end offset: [(offset, key, value)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compaction-reader", "enable.auto.commit": False})
    try:
        _, end = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        out, deadline = [], time.monotonic() + timeout
        while (not out or out[-1][0] < end - 1) and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                out.append((m.offset(), m.key(), m.value()))
        return out, end
    finally:
        c.close()


def _wait_read(bootstrap, topic, done, what, timeout=30.0):
    """``_read_all`` again and again until ``done(records)``: (records, end offset)."""

    def read():
        got, end = _read_all(bootstrap, topic)
        return (got, end) if done(got) else None

    return wait_until(read, timeout, what, interval=0.5)


def _wait_compacted(bootstrap, topic, fewer_than, timeout=30.0):
    return _wait_read(
        bootstrap,
        topic,
        lambda got: len(got) < fewer_than,
        f"compaction to leave fewer than {fewer_than} records in {topic}",
        timeout,
    )


def test_a_compacted_topic_keeps_the_latest_value_of_each_key(cbroker, topic_name):
    bootstrap = cbroker.bootstrap
    create_topic(bootstrap, topic_name, config=TOPIC_CONFIG)
    items = [(b"k%d" % (i % 10), b"v%d" % i + b"." * 80) for i in range(400)]
    _produce(bootstrap, topic_name, items)
    got, end = _wait_compacted(bootstrap, topic_name, fewer_than=120)
    assert end == 400  # offsets never change
    assert len(got) < 120, f"no compaction: {len(got)} records"
    offsets = [o for o, _, _ in got]
    assert offsets == sorted(set(offsets)) and offsets[-1] == 399
    latest = {k: v for k, v in items}
    assert {k: v for _, k, v in got} == latest  # every key's latest value is still there
    produced = {(i, k, v) for i, (k, v) in enumerate(items)}
    assert all(r in produced for r in got)

    # tombstones: k0 deleted; once rolled into a cleaned segment (delete.retention.ms 0) it goes
    _produce(
        bootstrap, topic_name, [(b"k0", None)] + [(b"k%d" % (1 + i % 9), b"w%d" % i + b"." * 80) for i in range(120)]
    )
    got, end = _wait_read(
        bootstrap,
        topic_name,
        lambda got: all(k != b"k0" for _, k, _ in got),
        "the tombstone and k0's values to be gone",
    )
    assert end == 521 and {k for _, k, _ in got} == {b"k%d" % i for i in range(1, 10)}


def test_a_consumer_reading_while_passes_swap_files(cbroker, topic_name):
    bootstrap = cbroker.bootstrap
    create_topic(bootstrap, topic_name, config=TOPIC_CONFIG)
    produced = {}
    stop = threading.Event()
    problems = []

    def consume():
        # re-reads from the beginning again and again while the producer and the cleaner work
        while not stop.is_set():
            c = Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": "swap-reader",
                    "enable.auto.commit": False,
                    "fetch.wait.max.ms": 50,
                }
            )
            try:
                c.assign([TopicPartition(topic_name, 0, OFFSET_BEGINNING)])
                last, t_end = -1, time.monotonic() + 1.5
                while time.monotonic() < t_end and not stop.is_set():
                    m = c.poll(0.1)
                    if m is None or m.error():
                        continue
                    if m.offset() <= last:
                        problems.append(f"offset {m.offset()} after {last}")
                    last = m.offset()
                    if produced.get(m.offset()) != (m.key(), m.value()):
                        problems.append(f"offset {m.offset()}: {m.key()!r}={m.value()!r} was not produced there")
            finally:
                c.close()

    reader = threading.Thread(target=consume)
    reader.start()
    try:
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.num.messages": 1})
        n = 0
        for _ in range(6):
            for _ in range(150):
                item = (b"k%d" % (n % 7), b"v%d" % n + b"." * 60)
                produced[n] = item  # offsets follow production order: one producer, one partition
                p.produce(topic_name, key=item[0], value=item[1])
                p.poll(0)
                n += 1
            assert p.flush(15) == 0
            time.sleep(1.2)  # pacing, the point of the test: a maintenance tick or so, a pass runs between rounds
    finally:
        stop.set()
        reader.join(30)
    assert not problems, problems[:5]
    got, end = _wait_compacted(bootstrap, topic_name, fewer_than=200)
    assert end == n and len(got) < 200
    assert {k: v for _, k, v in got} == {k: v for k, v in produced.values()}
