"""Broker properties as Kafka's server.properties writes them, seen by a real client: hours reach
the topics' retention (DescribeConfigs through confluent-kafka), properties hpbroker does not use
are named at start-up, and a bad value stops the start naming the property."""
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, ResourceType

from tests.integration.conftest import create_topic, mode_broker

pytestmark = pytest.mark.integration


def test_hours_reach_topics_and_unused_names_are_logged():
    with mode_broker(subprocess=True, config={"log.retention.hours": "2", "log.roll.hours": "1",
                                              "zookeeper.connect": "zk:2181"}) as b:
        topic = create_topic(b.bootstrap, "props")
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        (f,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
        configs = f.result(15)
        assert configs["retention.ms"].value == "7200000"
        assert configs["retention.ms"].source == ConfigSource.STATIC_BROKER_CONFIG.value
        assert configs["segment.ms"].value == "3600000"
        assert any("properties not used by hpbroker (ignored): zookeeper.connect" in line
                   for line in b.extra["log"])


def test_a_bad_value_stops_the_start_and_names_the_property():
    with pytest.raises(RuntimeError, match="log.retention.hours: 'a week' is not an integer"):
        with mode_broker(subprocess=True, config={"log.retention.hours": "a week"}, startup_timeout=20):
            pass
