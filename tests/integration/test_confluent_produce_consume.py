"""confluent-kafka (librdkafka) producing to and consuming from hpbroker."""

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.integration.conftest import confluent_consume_all, create_topic

pytestmark = pytest.mark.integration


def _produce(bootstrap, topic, messages, **conf):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})
    reports = []

    def on_delivery(err, msg):
        reports.append((err, msg))

    for m in messages:
        p.produce(topic, on_delivery=on_delivery, **m)
    assert p.flush(30) == 0
    errors = [e for e, _ in reports if e is not None]
    assert not errors, errors
    return [m for _, m in reports]


def test_idempotent_acks_all_keys_headers_ordering(bootstrap, topic_name):
    create_topic(bootstrap, topic_name, partitions=3)
    msgs = [
        {"key": f"k{i % 5}".encode(), "value": f"v{i}".encode(), "headers": [("h", f"{i}".encode())]}
        for i in range(300)
    ]
    delivered = _produce(bootstrap, topic_name, msgs, **{"enable.idempotence": True, "acks": "all"})
    # dense offsets from 0 in every partition, in produce order per key
    by_part = {}
    for m in delivered:
        by_part.setdefault(m.partition(), []).append(m.offset())
    for offsets in by_part.values():
        assert sorted(offsets) == list(range(len(offsets)))
    got = confluent_consume_all(bootstrap, topic_name, 3, 300)
    assert len(got) == 300
    per_key = {}
    for m in got:
        per_key.setdefault(m.key(), []).append(int(m.value()[1:]))
        assert m.headers() == [("h", m.value()[1:])]
    for k, vals in per_key.items():
        assert vals == sorted(vals), f"order broken for key {k}"
    assert sum(len(v) for v in per_key.values()) == 300


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression_codecs_round_trip(bootstrap, topic_name, codec):
    create_topic(bootstrap, topic_name)
    values = [f"{codec}-{i}-".encode() * 20 for i in range(200)]
    _produce(bootstrap, topic_name, [{"value": v} for v in values], **{"compression.type": codec})
    got = confluent_consume_all(bootstrap, topic_name, 1, 200)
    assert [m.value() for m in got] == values


def test_large_empty_and_null_values(bootstrap, topic_name):
    create_topic(bootstrap, topic_name)
    big = bytes(range(256)) * (900 * 1024 // 256)
    _produce(
        bootstrap,
        topic_name,
        [{"value": big}, {"value": b""}, {"key": b"k", "value": None}],
        **{"message.max.bytes": 1000000},
    )
    got = confluent_consume_all(bootstrap, topic_name, 1, 3)
    assert got[0].value() == big
    assert got[1].value() == b""
    assert got[2].value() is None and got[2].key() == b"k"


def test_watermarks_and_offsets_for_times(bootstrap, topic_name):
    create_topic(bootstrap, topic_name)
    base = int(time.time() * 1000) - 100000
    msgs = [{"value": f"m{i}".encode(), "timestamp": base + i * 1000} for i in range(10)]
    p = Producer({"bootstrap.servers": bootstrap, "batch.num.messages": 1, "linger.ms": 0})
    for m in msgs:
        p.produce(topic_name, **m)
        p.flush(10)  # one batch per message so the time index has one entry per record
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wm", "enable.auto.commit": False})
    try:
        low, high = c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10)
        assert (low, high) == (0, 10)
        found = c.offsets_for_times([TopicPartition(topic_name, 0, base + 4500)], timeout=10)
        assert found[0].offset == 5
        found = c.offsets_for_times([TopicPartition(topic_name, 0, base + 10**7)], timeout=10)
        assert found[0].offset == -1
    finally:
        c.close()


def test_consumer_long_poll_wakes_on_new_data(bootstrap, topic_name):
    from confluent_kafka import OFFSET_END

    create_topic(bootstrap, topic_name)
    c = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "lp", "enable.auto.commit": False, "fetch.wait.max.ms": 30000}
    )
    c.assign([TopicPartition(topic_name, 0, OFFSET_END)])
    try:
        c.poll(1.0)  # let it reach the long-poll
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        t0 = time.monotonic()
        p.produce(topic_name, value=b"wake")
        p.flush(10)
        m = None
        # within 10 s: woken by the append, not answered at fetch.wait.max.ms (30 s)
        while m is None and time.monotonic() - t0 < 10:
            m = c.poll(0.2)
        assert m is not None, "the parked fetch was not woken by the append"
        assert m.value() == b"wake"
    finally:
        c.close()
