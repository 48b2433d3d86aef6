"""ListOffsets from confluent-kafka's AdminClient.list_offsets: latest, earliest, a timestamp, and
max_timestamp (KIP-734, which librdkafka sends at any version the broker advertises)."""

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from tests.integration.conftest import create_topic

pytestmark = pytest.mark.integration


def test_every_offset_spec(bootstrap, topic_name):
    create_topic(bootstrap, topic_name, partitions=2)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i, ts in enumerate((1_000, 5_000, 3_000, 5_000, 2_000)):  # offsets 0..4 of partition 0
        p.produce(topic_name, b"v%d" % i, partition=0, timestamp=ts)
        p.flush(10)  # one batch each: the max is found among batches and records
    assert p.flush(10) == 0
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def ask(spec, partition=0):
        (f,) = admin.list_offsets({TopicPartition(topic_name, partition): spec}, request_timeout=15).values()
        r = f.result(15)
        return r.offset, r.timestamp

    assert ask(OffsetSpec.latest())[0] == 5
    assert ask(OffsetSpec.earliest())[0] == 0
    assert ask(OffsetSpec.for_timestamp(2_500)) == (1, 5_000)
    assert ask(OffsetSpec.max_timestamp()) == (1, 5_000)  # the first record with the highest one
    assert ask(OffsetSpec.max_timestamp(), partition=1) == (-1, -1)  # nothing written there


def test_kafka_python_offset_specs_and_broker_version(bootstrap, topic_name):
    """kafka-python asks MAX_TIMESTAMP at ListOffsets v7+ and EARLIEST_LOCAL at v8+, and infers
    the broker's version from what ApiVersions advertises (ListOffsets 7 -> Kafka 3.0). With 2.5+
    it recovers an idempotent producer through InitProducerId v3+ (KIP-360), so that must work too:
    without a transactional id the answer is a new producer id, epoch 0, as Kafka gives."""
    from kafka import KafkaProducer
    from kafka import TopicPartition as KTopicPartition
    from kafka.admin import KafkaAdminClient
    from kafka.admin import OffsetSpec as KOffsetSpec
    from kafka.protocol.producer import InitProducerIdRequest

    create_topic(bootstrap, topic_name)
    kp = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=0)
    try:
        assert kp.config["api_version"] >= (3, 0)
        for ts in (1_000, 9_000, 4_000):
            kp.send(topic_name, b"v", partition=0, timestamp_ms=ts).get(timeout=15)
    finally:
        kp.close(timeout=10)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        tp = KTopicPartition(topic_name, 0)
        got = admin.list_partition_offsets({tp: KOffsetSpec.MAX_TIMESTAMP})[tp]
        assert (got.offset, got.timestamp) == (1, 9_000)
        assert admin.list_partition_offsets({tp: KOffsetSpec.EARLIEST_LOCAL})[tp].offset == 0
        assert admin.list_partition_offsets({tp: KOffsetSpec.LATEST})[tp].offset == 3

        first = admin._manager.run(
            admin._manager.send,
            InitProducerIdRequest(
                transactional_id=None,
                transaction_timeout_ms=60000,
                producer_id=-1,
                producer_epoch=-1,
                min_version=3,
                max_version=4,
            ),
        )
        assert first.error_code == 0 and first.producer_epoch == 0
        bumped = admin._manager.run(
            admin._manager.send,
            InitProducerIdRequest(
                transactional_id=None,
                transaction_timeout_ms=60000,
                producer_id=first.producer_id,
                producer_epoch=first.producer_epoch,
                min_version=3,
                max_version=4,
            ),
        )
        assert bumped.error_code == 0 and bumped.producer_id != first.producer_id and bumped.producer_epoch == 0
    finally:
        admin.close()
