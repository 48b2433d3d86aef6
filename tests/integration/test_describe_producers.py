"""DescribeProducers from kafka-python's ``describe_producers`` (KIP-664): the idempotent
producer that wrote each partition, its last sequence and last timestamp, in both broker modes
(partitions of one request spread over the handlers); an unknown partition's error."""

import pytest
from confluent_kafka import Producer

from tests.integration.conftest import create_topic
from tests.integration.rawclient import RawClient

pytestmark = pytest.mark.integration


def test_describe_producers(bootstrap, topic_name):
    from kafka import KafkaAdminClient, TopicPartition

    create_topic(bootstrap, topic_name, partitions=4)
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0})
    for i in range(9):  # partitions 0..2 get 3 records each, one batch per record; 3 gets none
        p.produce(topic_name, b"v", partition=i % 3, timestamp=5_000 + i)
        p.flush(10)
    assert p.flush(10) == 0
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        got = admin.describe_producers([TopicPartition(topic_name, i) for i in range(4)])
    finally:
        admin.close()
    states = {tp.partition: s.active_producers for tp, s in got.items()}
    assert states[3] == []
    pids = {s[0].producer_id for i, s in states.items() if i < 3}
    assert len(pids) == 1 and pids.pop() >= 0  # the one producer, in every partition it wrote
    for i in range(3):
        (s,) = states[i]
        assert (s.producer_epoch, s.last_sequence, s.last_timestamp) == (0, 2, 5_000 + 6 + i)
        assert (s.coordinator_epoch, s.current_transaction_start_offset) == (-1, -1)


def test_unknown_partition(bootstrap, topic_name):
    create_topic(bootstrap, topic_name, partitions=1)
    with RawClient(bootstrap) as c:
        r = c.request(
            61,
            0,
            {
                "topics": [
                    {"name": topic_name, "partition_indexes": [0, 5]},
                    {"name": topic_name + "-nope", "partition_indexes": [0]},
                ]
            },
        )
    (t, missing) = r["topics"]
    assert [(p["partition_index"], p["error_code"]) for p in t["partitions"]] == [(0, 0), (5, 3)]
    assert [(p["partition_index"], p["error_code"]) for p in missing["partitions"]] == [(0, 3)]
