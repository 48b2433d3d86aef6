"""Fetch and topic-config rules at the protocol level (PROTOCOL.md section 5)."""

import time

import pytest

from hpbroker.records.builder import build_batch
from tests.integration.conftest import create_topic
from tests.integration.rawclient import RawClient, produce_body, produce_result

pytestmark = pytest.mark.integration

FETCH, PRODUCE = 1, 0


def _fetch(c, topic, partitions, *, max_wait=0, min_bytes=1, max_bytes=10_000_000, version=11):
    body = {
        "replica_id": -1,
        "max_wait_ms": max_wait,
        "min_bytes": min_bytes,
        "max_bytes": max_bytes,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": p,
                        "current_leader_epoch": -1,
                        "fetch_offset": off,
                        "log_start_offset": -1,
                        "partition_max_bytes": pmax,
                    }
                    for p, off, pmax in partitions
                ],
            }
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }
    r = c.request(FETCH, version, body)
    return {p["partition_index"]: p for p in r["responses"][0]["partitions"]}


def _fill(c, topic, partition, n, size):
    for i in range(n):
        b = build_batch([bytes([i % 256]) * size])
        assert produce_result(c.request(PRODUCE, 8, produce_body(topic, partition, bytes(b))))[0] == 0
    return len(b)


def test_limits_kip74_and_every_partition_present(bootstrap, topic_name):
    create_topic(bootstrap, topic_name, partitions=3)
    with RawClient(bootstrap) as c:
        batch_size = _fill(c, topic_name, 0, 5, 1000)
        _fill(c, topic_name, 1, 5, 1000)
        # partition_max_bytes smaller than one batch: the first batch still comes whole (KIP-74)
        got = _fetch(c, topic_name, [(0, 0, 10), (1, 0, 10), (2, 0, 10)])
        assert set(got) == {0, 1, 2}, "every requested partition must be answered"
        assert len(got[0]["records"]) == batch_size
        assert len(got[1]["records"]) == 0  # only the first non-empty partition gets the exception
        assert got[2]["records"] is not None and len(got[2]["records"]) == 0
        # whole batches up to partition_max_bytes, and the response-wide max_bytes budget
        got = _fetch(c, topic_name, [(0, 0, 3 * batch_size), (1, 0, 3 * batch_size)], max_bytes=4 * batch_size)
        assert len(got[0]["records"]) == 3 * batch_size
        assert len(got[1]["records"]) == batch_size
        # a fetch offset inside a batch returns that batch; hw, lso, log start offset reported
        got = _fetch(c, topic_name, [(0, 2, 10_000)])
        assert len(got[0]["records"]) == 3 * batch_size
        assert (got[0]["high_watermark"], got[0]["last_stable_offset"], got[0]["log_start_offset"]) == (5, 5, 0)
        # out of range above the log end offset
        got = _fetch(c, topic_name, [(0, 99, 10_000)])
        assert got[0]["error_code"] == 1  # OFFSET_OUT_OF_RANGE


def test_long_poll_waits_for_min_bytes_or_max_wait(bootstrap, topic_name):
    create_topic(bootstrap, topic_name)
    with RawClient(bootstrap) as c:
        t0 = time.monotonic()
        got = _fetch(c, topic_name, [(0, 0, 10_000)], max_wait=300)
        waited = time.monotonic() - t0
        assert len(got[0]["records"]) == 0 and waited >= 0.25


def test_topic_configs_take_effect(bootstrap, topic_name):
    from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Consumer, TopicPartition

    create_topic(
        bootstrap,
        topic_name,
        config={"message.timestamp.type": "LogAppendTime", "max.message.bytes": "2000", "min.insync.replicas": "2"},
    )
    with RawClient(bootstrap) as c:
        big = build_batch([b"x" * 3000])
        assert produce_result(c.request(PRODUCE, 8, produce_body(topic_name, 0, bytes(big), acks=1)))[0] == 10
        ok = build_batch([b"small"], base_timestamp=1000)
        assert produce_result(c.request(PRODUCE, 8, produce_body(topic_name, 0, bytes(ok), acks=1)))[0] == 0
        # acks=all needs min.insync.replicas=2 in-sync replicas; a single node has one
        assert produce_result(c.request(PRODUCE, 8, produce_body(topic_name, 0, bytes(ok), acks=-1)))[0] == 19
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": "lat", "enable.auto.commit": False})
    cons.assign([TopicPartition(topic_name, 0, 0)])
    try:
        m = None
        deadline = time.monotonic() + 10
        while m is None and time.monotonic() < deadline:
            m = cons.poll(0.5)
        ts_type, ts = m.timestamp()
        assert ts_type == TIMESTAMP_LOG_APPEND_TIME and ts > 1_000_000_000_000  # broker time, not 1000
    finally:
        cons.close()


def test_fetch_records_leave_as_file_regions(bootstrap, topic_name, broker):
    """The Fetch handler answers with file regions (sent by os.sendfile), not record bytes."""
    if broker.server is None:
        pytest.skip("needs the in-process broker")
    from hpbroker.broker.request import RequestContext
    from hpbroker.handlers import fetch
    from hpbroker.protocol import ExternalBytes

    create_topic(bootstrap, topic_name)
    with RawClient(bootstrap) as c:
        _fill(c, topic_name, 0, 3, 100)
    ctx = RequestContext(broker.server.broker, 1, 11, 1, "t", "test")
    req = {
        "max_wait_ms": 0,
        "min_bytes": 1,
        "max_bytes": 1 << 20,
        "isolation_level": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": topic_name,
                "partitions": [
                    {"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20, "current_leader_epoch": -1}
                ],
            }
        ],
    }
    # the handler is called from the test thread only to inspect its answer's shape
    resp = fetch.handle(ctx, req)
    records = resp["responses"][0]["partitions"][0]["records"]
    assert isinstance(records, ExternalBytes) and records.size > 0
    assert all(hasattr(r, "fd") and r.length > 0 for r in records.source)


def test_compacted_topic_needs_a_key_on_every_record(bootstrap, topic_name):
    """cleanup.policy=compact: a record without a key fails its batch with INVALID_RECORD, the
    record named in record_errors (Kafka's LogValidator.validateKey); keyed records are taken."""
    from confluent_kafka import KafkaError, Producer

    create_topic(bootstrap, topic_name, config={"cleanup.policy": "compact"})
    results = []
    p = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 0, "compression.type": "lz4", "message.send.max.retries": 0}
    )
    p.produce(topic_name, key=b"k", value=b"keyed", partition=0, on_delivery=lambda e, m: results.append(e))
    p.flush(10)
    p.produce(topic_name, value=b"no key", partition=0, on_delivery=lambda e, m: results.append(e))
    p.flush(10)
    assert results[0] is None
    assert results[1] is not None and results[1].code() == KafkaError.INVALID_RECORD
    with RawClient(bootstrap) as c:
        mixed = build_batch([(b"a", b"1"), (None, b"2"), (b"c", b"3")])
        r = c.request(PRODUCE, 8, produce_body(topic_name, 0, bytes(mixed), acks=1))
        part = r["responses"][0]["partition_responses"][0]
        assert part["error_code"] == 87
        assert [e["batch_index"] for e in part["record_errors"]] == [1]
        assert "without key" in part["error_message"]
        assert "without key" in part["record_errors"][0]["batch_index_error_message"]
        # the same batch goes into a topic that is not compacted
        create_topic(bootstrap, topic_name + "-d")
        r = c.request(PRODUCE, 8, produce_body(topic_name + "-d", 0, bytes(mixed), acks=1))
        assert produce_result(r)[0] == 0
