import pytest

from hpbroker.config import (
    SOURCE_DEFAULT_CONFIG,
    SOURCE_DYNAMIC_BROKER_CONFIG,
    SOURCE_STATIC_BROKER_CONFIG,
    BrokerConfig,
    ConfigError,
    read_properties,
    validate_topic_configs,
)


def test_properties_file(tmp_path):
    p = tmp_path / "server.properties"
    p.write_text("# comment\n! also\nlisteners=PLAINTEXT://0.0.0.0:9093\nlog.dirs = /a,/b\nnum.partitions: 3\n"
                 "long.value=a\\\n  b\n")
    props = read_properties(str(p))
    assert props == {"listeners": "PLAINTEXT://0.0.0.0:9093", "log.dirs": "/a,/b", "num.partitions": "3",
                     "long.value": "ab"}


def test_sources_and_topic_defaults():
    c = BrokerConfig({"log.retention.ms": "1000", "num.partitions": "2"})
    assert c.get("num.partitions") == 2
    assert c.topic_default("retention.ms") == ("1000", SOURCE_STATIC_BROKER_CONFIG)
    assert c.topic_default("segment.bytes") == ("1073741824", SOURCE_DEFAULT_CONFIG)
    c.dynamic["log.retention.ms"] = "5"
    assert c.topic_default("retention.ms") == ("5", SOURCE_DYNAMIC_BROKER_CONFIG)
    assert c.effective_topic_config({"retention.ms": "7"})["retention.ms"] == "7"


def test_bad_values_refused():
    with pytest.raises(ConfigError):
        BrokerConfig({"num.partitions": "zero"})
    with pytest.raises(ConfigError):
        validate_topic_configs({"retention.ms": "-5"})
    with pytest.raises(ConfigError):
        validate_topic_configs({"unknown.config": "1"})
    with pytest.raises(ConfigError):
        validate_topic_configs({"message.timestamp.type": "Whenever"})
    assert validate_topic_configs({"cleanup.policy": "compact,delete"}) == {"cleanup.policy": "compact,delete"}
