"""IncrementalAlterConfigs: each operation on topic and broker configs, and Kafka's errors."""

import pytest

from hpbroker.config import TOPIC_CONFIGS
from hpbroker.handlers import incremental_alter_configs as iac
from hpbroker.protocol.errors import ErrorCode

TOPIC, BROKER = 2, 4
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


@pytest.fixture
def broker(harness):
    harness.create_topic("t", 1, {"retention.ms": "1000"})
    return harness


def _call(broker, *resources, validate_only=False):
    request = {
        "validate_only": validate_only,
        "resources": [
            {
                "resource_type": rtype,
                "resource_name": name,
                "configs": [{"name": n, "config_operation": op, "value": v} for n, op, v in ops],
            }
            for rtype, name, ops in resources
        ],
    }
    return [(r["error_code"], r["error_message"]) for r in broker.request(iac.API_KEY, 1, request)["responses"]]


def _overrides(broker, topic="t"):
    return broker.topics.get(topic).configs


def test_set_and_delete_leave_other_overrides_alone(broker):
    assert _call(broker, (TOPIC, "t", [("retention.bytes", SET, "5000")])) == [(0, None)]
    assert _overrides(broker) == {"retention.ms": "1000", "retention.bytes": "5000"}
    assert _call(broker, (TOPIC, "t", [("retention.ms", DELETE, None)])) == [(0, None)]
    assert _overrides(broker) == {"retention.bytes": "5000"}
    assert broker.broker.replica_manager.topic_config(broker.topics.get("t"))["retention.ms"] == "604800000"
    # deleting what is not overridden changes nothing and is no error
    assert _call(broker, (TOPIC, "t", [("segment.ms", DELETE, None)])) == [(0, None)]
    assert _overrides(broker) == {"retention.bytes": "5000"}


def test_append_and_subtract_start_from_the_default_of_a_list(broker):
    assert TOPIC_CONFIGS["cleanup.policy"].default == "delete"
    assert _call(broker, (TOPIC, "t", [("cleanup.policy", APPEND, "compact")])) == [(0, None)]
    assert _overrides(broker)["cleanup.policy"] == "delete,compact"
    assert _call(broker, (TOPIC, "t", [("cleanup.policy", APPEND, "compact,delete")])) == [(0, None)]
    assert _overrides(broker)["cleanup.policy"] == "delete,compact"  # no duplicates
    assert _call(broker, (TOPIC, "t", [("cleanup.policy", SUBTRACT, "delete")])) == [(0, None)]
    assert _overrides(broker)["cleanup.policy"] == "compact"
    # an empty policy is a valid list (neither delete nor compact), as in Kafka 3.x
    assert _call(broker, (TOPIC, "t", [("cleanup.policy", SUBTRACT, "compact")])) == [(0, None)]
    assert _overrides(broker)["cleanup.policy"] == ""
    code, _ = _call(broker, (TOPIC, "t", [("cleanup.policy", APPEND, "archive")]))[0]
    assert code == ErrorCode.INVALID_CONFIG and _overrides(broker)["cleanup.policy"] == ""


def test_errors_change_nothing(broker):
    before = dict(_overrides(broker))
    cases = [
        ([("retention.ms", APPEND, "5")], ErrorCode.INVALID_CONFIG),  # not a list
        ([("retention.ms", SET, "soon")], ErrorCode.INVALID_CONFIG),  # bad value
        ([("no.such.config", SET, "1")], ErrorCode.INVALID_CONFIG),
        ([("no.such.config", DELETE, None)], ErrorCode.INVALID_CONFIG),
        ([("no.such.config", APPEND, "x")], ErrorCode.INVALID_CONFIG),
        ([("retention.ms", SET, None)], ErrorCode.INVALID_REQUEST),  # null value
        ([("retention.ms", 7, "1")], ErrorCode.INVALID_REQUEST),  # unknown operation
        ([("retention.ms", SET, "1"), ("retention.ms", DELETE, None)], ErrorCode.INVALID_REQUEST),
        # all or nothing within a resource: the good SET does not land either
        ([("retention.bytes", SET, "1"), ("retention.ms", SET, "x")], ErrorCode.INVALID_CONFIG),
    ]
    for ops, code in cases:
        got = _call(broker, (TOPIC, "t", ops))[0]
        assert got[0] == code, (ops, got)
        assert got[1]
        assert _overrides(broker) == before, ops
    assert _call(broker, (TOPIC, "missing", [("retention.ms", SET, "1")]))[0][0] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert _call(broker, (8, "hpbroker", [("x", SET, "1")]))[0][0] == ErrorCode.INVALID_REQUEST


def test_a_resource_named_twice_fails_both_times_and_others_go_through(broker):
    broker.create_topic("u", 1, {})
    got = _call(
        broker,
        (TOPIC, "t", [("retention.ms", SET, "1")]),
        (TOPIC, "u", [("retention.ms", SET, "2")]),
        (TOPIC, "t", [("retention.bytes", SET, "3")]),
    )
    assert [c for c, _ in got] == [ErrorCode.INVALID_REQUEST, 0, ErrorCode.INVALID_REQUEST]
    assert _overrides(broker) == {"retention.ms": "1000"} and _overrides(broker, "u") == {"retention.ms": "2"}


def test_validate_only_checks_and_changes_nothing(broker):
    assert _call(broker, (TOPIC, "t", [("retention.ms", SET, "5")]), validate_only=True) == [(0, None)]
    assert (
        _call(broker, (TOPIC, "t", [("retention.ms", SET, "x")]), validate_only=True)[0][0] == ErrorCode.INVALID_CONFIG
    )
    assert _overrides(broker) == {"retention.ms": "1000"}


def test_broker_dynamic_configs(broker):
    """The broker's id changes its own dynamic configs, "" the cluster-wide defaults; a refusal
    is INVALID_REQUEST with Kafka's text, as Kafka's ConfigAdminManager answers."""
    assert _call(broker, (BROKER, "0", [("log.retention.ms", SET, "5000")])) == [(0, None)]
    assert _call(broker, (BROKER, "", [("log.cleanup.policy", APPEND, "compact")])) == [(0, None)]
    assert broker.config.dynamic == {"log.retention.ms": "5000"}
    assert broker.config.dynamic_default == {"log.cleanup.policy": "delete,compact"}
    # the topic without an override of its own follows the broker
    assert broker.broker.replica_manager.topic_config(broker.topics.get("t"))["cleanup.policy"] == "delete,compact"
    assert _call(broker, (BROKER, "0", [("log.retention.ms", DELETE, None)])) == [(0, None)]
    assert broker.config.dynamic == {}
    assert _call(broker, (BROKER, "0", [("broker.id", SET, "3")])) == [
        (ErrorCode.INVALID_REQUEST, "Cannot update these configs dynamically: Set(broker.id)")
    ]
    assert _call(broker, (BROKER, "7", [("log.retention.ms", SET, "1")])) == [
        (ErrorCode.INVALID_REQUEST, "Unexpected broker id, expected 0, but received 7")
    ]
    assert (
        _call(broker, (BROKER, "", [("sasl.kerberos.service.name", SET, "kafka")]))[0][0] == ErrorCode.INVALID_REQUEST
    )  # per broker only
    assert broker.config.dynamic_default == {"log.cleanup.policy": "delete,compact"}
    assert broker.topics.broker_default_configs == {"log.cleanup.policy": "delete,compact"}


def test_resource_names_kafka_refuses(broker):
    assert _call(broker, (TOPIC, "", [("retention.ms", SET, "5")])) == [
        (ErrorCode.INVALID_REQUEST, "Default topic resources are not allowed.")
    ]
    assert _call(broker, (BROKER, "zero", [("log.retention.ms", SET, "5")])) == [
        (ErrorCode.INVALID_REQUEST, "Node id must be an integer, but it is: zero")
    ]
