"""IncrementalAlterConfigs from real clients: confluent-kafka's incremental_alter_configs and
kafka-python's alter_configs/reset_configs (which pick IncrementalAlterConfigs when the broker
advertises it; forced here, so the test cannot pass through AlterConfigs)."""

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from tests.integration.conftest import create_topic

pytestmark = pytest.mark.integration


def _describe(admin, topic):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return admin.describe_configs([res])[res].result(timeout=15)


def _incremental(admin, rtype, name, *ops):
    res = ConfigResource(
        rtype, name, incremental_configs=[ConfigEntry(n, v, incremental_operation=op) for n, op, v in ops]
    )
    return admin.incremental_alter_configs([res])[res].result(timeout=15)


def test_confluent_incremental_alter_configs(bootstrap, topic_name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    create_topic(bootstrap, topic_name, config={"retention.ms": "3600000"})
    _incremental(
        admin,
        ConfigResource.Type.TOPIC,
        topic_name,
        ("cleanup.policy", AlterConfigOpType.APPEND, "compact"),
        ("retention.bytes", AlterConfigOpType.SET, "5000000"),
    )
    got = _describe(admin, topic_name)
    # the override set at creation stays: only the named configs changed
    assert got["retention.ms"].value == "3600000" and got["retention.ms"].source == 1
    assert got["cleanup.policy"].value == "delete,compact" and got["retention.bytes"].value == "5000000"

    _incremental(
        admin,
        ConfigResource.Type.TOPIC,
        topic_name,
        ("retention.ms", AlterConfigOpType.DELETE, None),
        ("cleanup.policy", AlterConfigOpType.SUBTRACT, "delete"),
    )
    got = _describe(admin, topic_name)
    assert (got["retention.ms"].value, got["retention.ms"].source) == ("604800000", 5)  # DEFAULT_CONFIG
    assert got["cleanup.policy"].value == "compact"

    with pytest.raises(KafkaException) as e:
        _incremental(admin, ConfigResource.Type.TOPIC, topic_name, ("retention.ms", AlterConfigOpType.APPEND, "1"))
    assert e.value.args[0].code() == 40  # INVALID_CONFIG: not a list
    with pytest.raises(KafkaException) as e:
        _incremental(
            admin, ConfigResource.Type.TOPIC, topic_name + "-missing", ("retention.ms", AlterConfigOpType.SET, "1")
        )
    assert e.value.args[0].code() == 3
    assert _describe(admin, topic_name)["cleanup.policy"].value == "compact"


def test_confluent_incremental_broker_config(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    broker = ConfigResource(ConfigResource.Type.BROKER, "0")
    _incremental(admin, ConfigResource.Type.BROKER, "0", ("log.retention.bytes", AlterConfigOpType.SET, "123456789"))
    try:
        got = admin.describe_configs([broker])[broker].result(timeout=15)["log.retention.bytes"]
        assert (got.value, got.source) == ("123456789", 2)  # DYNAMIC_BROKER_CONFIG
    finally:
        _incremental(admin, ConfigResource.Type.BROKER, "0", ("log.retention.bytes", AlterConfigOpType.DELETE, None))
    got = admin.describe_configs([broker])[broker].result(timeout=15)["log.retention.bytes"]
    assert (got.value, got.source) == ("-1", 5)


def test_kafka_python_alter_and_reset_configs(bootstrap, topic_name):
    from kafka.admin import ConfigResource as KPResource
    from kafka.admin import ConfigResourceType, KafkaAdminClient

    create_topic(bootstrap, topic_name, config={"retention.ms": "3600000"})
    kp = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        result = kp.alter_configs(
            [KPResource(ConfigResourceType.TOPIC, topic_name, configs={"retention.bytes": "7777777"})], incremental=True
        )
        assert result == {"topic": {topic_name: "OK"}}
        admin = AdminClient({"bootstrap.servers": bootstrap})
        got = _describe(admin, topic_name)
        assert got["retention.bytes"].value == "7777777" and got["retention.ms"].value == "3600000"
        result = kp.reset_configs(
            [KPResource(ConfigResourceType.TOPIC, topic_name, configs=["retention.ms"])], incremental=True
        )
        assert result == {"topic": {topic_name: "OK"}}
        got = _describe(admin, topic_name)
        assert got["retention.ms"].source == 5 and got["retention.bytes"].value == "7777777"
    finally:
        kp.close()
