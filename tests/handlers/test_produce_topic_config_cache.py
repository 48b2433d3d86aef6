"""Produce reads the topic configs it checks batches against from a per-topic cache
(metadata/topic_configs.py); every way a config can change must reach the next Produce."""

import pytest

from hpbroker.handlers import alter_configs, produce
from hpbroker.protocol.errors import ErrorCode
from hpbroker.records.builder import build_batch

TOPIC_RESOURCE, BROKER_RESOURCE = 2, 4


@pytest.fixture
def broker(harness):
    return harness


def _produce(broker, topic="t", value_size=2000, acks=1):
    batch = build_batch([b"x" * value_size])  # writable: the broker patches offsets in place
    request = {
        "transactional_id": None,
        "acks": acks,
        "timeout_ms": 1000,
        "topic_data": [{"name": topic, "partition_data": [{"index": 0, "records": batch}]}],
    }
    return broker.request(produce.API_KEY, 8, request)["responses"][0]["partition_responses"][0]["error_code"]


def _alter(broker, rtype, name, configs):
    request = {
        "validate_only": False,
        "resources": [
            {
                "resource_type": rtype,
                "resource_name": name,
                "configs": [{"name": k, "value": v} for k, v in configs.items()],
            }
        ],
    }
    response = broker.request(alter_configs.API_KEY, 1, request)
    assert response["responses"][0]["error_code"] == 0


def test_alter_topic_configs_then_produce_sees_the_new_max_message_bytes(broker):
    broker.create_topic("t", 1, {})
    assert _produce(broker) == 0  # fills the cache with the default (1 MB)
    _alter(broker, TOPIC_RESOURCE, "t", {"max.message.bytes": "1000"})
    assert _produce(broker) == ErrorCode.MESSAGE_TOO_LARGE
    _alter(broker, TOPIC_RESOURCE, "t", {})  # non-incremental: removes the override
    assert _produce(broker) == 0


def test_dynamic_broker_config_reaches_topics_without_an_override(broker):
    broker.create_topic("t", 1, {})
    broker.create_topic("own", 1, {"max.message.bytes": "100000"})
    assert _produce(broker) == 0 and _produce(broker, "own") == 0
    _alter(broker, BROKER_RESOURCE, "0", {"message.max.bytes": "1000"})
    assert _produce(broker) == ErrorCode.MESSAGE_TOO_LARGE
    assert _produce(broker, "own") == 0  # the topic's override wins over the broker's value
    _alter(broker, BROKER_RESOURCE, "0", {"min.insync.replicas": "2"})  # message.max.bytes back
    assert _produce(broker) == 0
    assert _produce(broker, acks=-1) == ErrorCode.NOT_ENOUGH_REPLICAS


def test_recreated_topic_gets_its_new_configs(broker):
    broker.create_topic("t", 1, {"max.message.bytes": "1000"})
    assert _produce(broker) == ErrorCode.MESSAGE_TOO_LARGE
    broker.run(broker.broker.controller.delete_topic("t"))
    broker.create_topic("t", 1, {})
    assert _produce(broker) == 0


def test_effective_topic_config_is_read_only(broker):
    broker.create_topic("t", 1)
    with pytest.raises(TypeError):
        broker.broker.replica_manager.topic_config(broker.topics.get("t"))["max.message.bytes"] = "1"
