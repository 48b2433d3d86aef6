"""A broker started with ``log.retention.hours`` (as Kafka's own server.properties sets it): topics
inherit the retention in ms, and DescribeConfigs says where it came from."""

from tests.handlers.harness import BrokerHarness

TOPIC, BROKER = 2, 4
STATIC, DEFAULT = 4, 5


def _describe(broker, rtype, name, keys):
    r = broker.request(
        32,
        3,
        {
            "include_synonyms": True,
            "include_documentation": False,
            "resources": [{"resource_type": rtype, "resource_name": name, "configuration_keys": keys}],
        },
    )
    (res,) = r["results"]
    assert res["error_code"] == 0
    return {c["name"]: c for c in res["configs"]}


def test_hours_reach_topics_and_are_described(tmp_path):
    b = BrokerHarness(tmp_path, {"log.retention.hours": "24"})
    try:
        b.create_topic("t", 1)
        assert b.partition("t", 0).log.config.retention_ms == 86_400_000
        got = _describe(b, TOPIC, "t", ["retention.ms"])["retention.ms"]
        assert (got["value"], got["config_source"]) == ("86400000", STATIC)
        assert [(s["name"], s["value"], s["source"]) for s in got["synonyms"]] == [
            ("log.retention.hours", "24", STATIC),
            ("log.retention.ms", "604800000", DEFAULT),
        ]
        broker = _describe(b, BROKER, "0", ["log.retention.hours", "log.retention.minutes", "log.retention.ms"])
        assert (broker["log.retention.hours"]["value"], broker["log.retention.hours"]["read_only"]) == ("24", True)
        assert broker["log.retention.minutes"]["value"] is None
        assert (broker["log.retention.ms"]["value"], broker["log.retention.ms"]["config_source"]) == (
            "86400000",
            STATIC,
        )
    finally:
        b.close()
