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
