"""OffsetDelete from a real client (kafka-python's delete_group_offsets): a live consumer group
keeps the offsets of the topics it reads; once it has left, they go."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.integration.conftest import create_topic

pytestmark = pytest.mark.integration


def _committed(bootstrap, group, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(topic, p) for p in partitions], timeout=15)
        return {tp.partition: tp.offset for tp in got}
    finally:
        c.close()


def _wait_assigned(consumer, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not consumer.assignment():
        assert time.monotonic() < deadline, "no assignment"
        consumer.poll(0.2)


def test_delete_group_offsets(bootstrap, topic_name):
    from kafka import TopicPartition as KPPartition
    from kafka.admin import KafkaAdminClient
    from kafka.errors import GroupIdNotFoundError

    other = create_topic(bootstrap, topic_name + "-other", partitions=1)
    create_topic(bootstrap, topic_name, partitions=2)
    group = f"od-{uuid.uuid4().hex[:8]}"
    member = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "session.timeout.ms": 6000}
    )
    member.subscribe([topic_name])
    _wait_assigned(member)
    member.commit(
        offsets=[TopicPartition(topic_name, 0, 5), TopicPartition(topic_name, 1, 6), TopicPartition(other, 0, 7)],
        asynchronous=False,
    )

    kp = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        # the group is live and subscribed to topic_name: only the other topic's offset goes
        got = kp.delete_group_offsets(
            group, [KPPartition(topic_name, 0), KPPartition(other, 0), KPPartition(topic_name + "-missing", 0)]
        )
        assert {(tp.topic, tp.partition): err.errno for tp, err in got.items()} == {
            (topic_name, 0): 86,
            (other, 0): 0,
            (topic_name + "-missing", 0): 3,
        }
        assert _committed(bootstrap, group, other, [0]) == {0: -1001}  # OFFSET_INVALID: none
        assert _committed(bootstrap, group, topic_name, [0, 1]) == {0: 5, 1: 6}

        member.close()  # leaves the group: Empty now
        member = None
        got = kp.delete_group_offsets(group, [KPPartition(topic_name, 0)])
        assert {(tp.topic, tp.partition): err.errno for tp, err in got.items()} == {(topic_name, 0): 0}
        assert _committed(bootstrap, group, topic_name, [0, 1]) == {0: -1001, 1: 6}
        with pytest.raises(GroupIdNotFoundError):
            kp.delete_group_offsets(group + "-missing", [KPPartition(topic_name, 0)])
    finally:
        kp.close()
        if member is not None:
            member.close()
