"""AlterConfigs (legacy) and DescribeConfigs details Kafka's admin clients depend on: request
checks, the two broker resources, sensitive values, documentation."""

import pytest

from hpbroker.handlers import alter_configs, describe_configs
from hpbroker.protocol.errors import ErrorCode

TOPIC, BROKER = 2, 4


@pytest.fixture
def broker(harness):
    harness.create_topic("t", 1, {})
    return harness


def _alter(broker, *resources):
    request = {
        "validate_only": False,
        "resources": [
            {"resource_type": t, "resource_name": n, "configs": [{"name": k, "value": v} for k, v in configs]}
            for t, n, configs in resources
        ],
    }
    return [
        (r["error_code"], r["error_message"]) for r in broker.request(alter_configs.API_KEY, 1, request)["responses"]
    ]


def _describe(broker, rtype, name, keys=None, docs=False):
    (res,) = broker.request(
        describe_configs.API_KEY,
        3,
        {
            "include_synonyms": True,
            "include_documentation": docs,
            "resources": [{"resource_type": rtype, "resource_name": name, "configuration_keys": keys}],
        },
    )["results"]
    return res


def test_request_checks(broker):
    assert _alter(broker, (TOPIC, "t", [("retention.ms", "1"), ("retention.ms", "2")])) == [
        (ErrorCode.INVALID_REQUEST, "Error due to duplicate config keys")
    ]
    assert _alter(broker, (TOPIC, "t", [("retention.ms", None), ("segment.ms", None)])) == [
        (ErrorCode.INVALID_REQUEST, "Null value not supported for : retention.ms, segment.ms")
    ]
    assert (
        _alter(broker, (TOPIC, "t", [("retention.ms", "1")]), (TOPIC, "t", [("retention.ms", "2")]))
        == [(ErrorCode.INVALID_REQUEST, "Each resource must appear at most once.")] * 2
    )
    assert _alter(broker, (TOPIC, "", [("retention.ms", "1")])) == [
        (ErrorCode.INVALID_REQUEST, "Default topic resources are not allowed.")
    ]
    assert broker.topics.get("t").configs == {}


def test_the_two_broker_resources(broker):
    assert _alter(
        broker, (BROKER, "", [("log.retention.ms", "1000")]), (BROKER, "0", [("message.max.bytes", "5")])
    ) == [(0, None), (0, None)]
    assert (broker.config.dynamic_default, broker.config.dynamic) == (
        {"log.retention.ms": "1000"},
        {"message.max.bytes": "5"},
    )
    cluster = _describe(broker, BROKER, "")
    assert [(c["name"], c["value"], c["config_source"]) for c in cluster["configs"]] == [
        ("log.retention.ms", "1000", 3)
    ]
    own = {c["name"]: c for c in _describe(broker, BROKER, "0")["configs"]}
    assert (own["log.retention.ms"]["value"], own["log.retention.ms"]["config_source"]) == ("1000", 3)
    assert [(s["name"], s["value"], s["source"]) for s in own["message.max.bytes"]["synonyms"]] == [
        ("message.max.bytes", "5", 2),
        ("message.max.bytes", "1048588", 5),
    ]
    assert _alter(broker, (BROKER, "7", [])) == [
        (ErrorCode.INVALID_REQUEST, "Unexpected broker id, expected 0, but received 7")
    ]
    assert _describe(broker, BROKER, "x")["error_message"] == "Broker id must be an integer, but it is: x"


def test_sensitive_values_and_documentation(broker):
    assert _alter(
        broker, (BROKER, "0", [("listener.name.plaintext.ssl.keystore.password", "pw"), ("my.plugin", "v")])
    ) == [(0, None)]
    own = {c["name"]: c for c in _describe(broker, BROKER, "0", docs=True)["configs"]}
    for name in ("listener.name.plaintext.ssl.keystore.password", "my.plugin", "ssl.keystore.password"):
        assert (own[name]["value"], own[name]["is_sensitive"]) == (None, True), name
        assert all(s["value"] is None for s in own[name]["synonyms"])
    assert own["listener.name.plaintext.ssl.keystore.password"]["config_source"] == 2
    assert own["my.plugin"]["config_type"] == 0 and own["my.plugin"]["read_only"]
    assert "recompressed" in own["compression.type"]["documentation"]
    assert own["num.partitions"]["read_only"] and not own["log.retention.ms"]["read_only"]
    # no keys, or an empty list, is every config, as Kafka's ConfigHelper reads it
    assert len(_describe(broker, TOPIC, "t", keys=[])["configs"]) == len(_describe(broker, TOPIC, "t")["configs"])
