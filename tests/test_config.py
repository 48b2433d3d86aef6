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
    for bad in ("0", "-2", "lots"):  # a buffer of -1 (the kernel's) or of at least a byte
        with pytest.raises(ConfigError):
            BrokerConfig({"socket.send.buffer.bytes": bad})
    cfg = BrokerConfig({"socket.send.buffer.bytes": "65536"})
    assert (cfg.get("socket.send.buffer.bytes"), cfg.get("socket.receive.buffer.bytes")) == (65536, -1)
    assert BrokerConfig({}).get("socket.send.buffer.bytes") == 102400  # Kafka's default


def test_errors_name_the_config():
    with pytest.raises(ConfigError, match="^log.retention.ms: 'abc' is not an integer$"):
        BrokerConfig({"log.retention.ms": "abc"})
    with pytest.raises(ConfigError, match="^retention.ms: "):
        validate_topic_configs({"segment.bytes": "1048576", "retention.ms": "-5"})


@pytest.mark.parametrize("name, bad, good", [
    ("compression.zstd.level", "23", "3"),
    ("compression.gzip.level", "10", "9"),
    ("log.preallocate", "maybe", "true"),
    ("log.roll.jitter.ms", "-1", "0"),
    ("log.message.timestamp.difference.max.ms", "soon", "1000"),
])
def test_static_topic_defaults_checked_at_start(name, bad, good):
    """Broker properties that only give a topic config its default are checked as that config
    when the broker starts (Kafka refuses to start), not when a topic first uses them."""
    with pytest.raises(ConfigError, match=f"^{name}: "):
        BrokerConfig({name: bad})
    assert BrokerConfig({name: good}).raw(name) == good


# every topic config of Kafka 3.x, with a value a client may set and one Kafka refuses
KAFKA_TOPIC_CONFIGS = {
    "cleanup.policy": ("compact,delete", "archive"),
    "compression.type": ("zstd", "brotli"),
    "compression.gzip.level": ("9", "10"),
    "compression.lz4.level": ("17", "0"),
    "compression.zstd.level": ("-5", "23"),
    "delete.retention.ms": ("1000", "-1"),
    "file.delete.delay.ms": ("0", "soon"),
    "flush.messages": ("1", "0"),
    "flush.ms": ("1000", "-1"),
    "follower.replication.throttled.replicas": ("0:1,1:1", "all"),
    "index.interval.bytes": ("1024", "-1"),
    "leader.replication.throttled.replicas": ("*", "0-1"),
    "local.retention.bytes": ("-2", "-3"),
    "local.retention.ms": ("-2", "-3"),
    "max.compaction.lag.ms": ("60000", "0"),
    "max.message.bytes": ("2000000", "-1"),
    "message.downconversion.enable": ("false", "no"),
    "message.format.version": ("3.0-IV1", "latest"),
    "message.timestamp.after.max.ms": ("1000", "-1"),
    "message.timestamp.before.max.ms": ("1000", "-1"),
    "message.timestamp.difference.max.ms": ("1000", "-1"),
    "message.timestamp.type": ("LogAppendTime", "WallClock"),
    "min.cleanable.dirty.ratio": ("0.1", "1.5"),
    "min.compaction.lag.ms": ("1000", "-1"),
    "min.insync.replicas": ("1", "0"),
    "preallocate": ("true", "1"),
    "remote.storage.enable": ("false", "true"),  # no tiered storage: Kafka's answer without it
    "retention.bytes": ("-1", "-2"),
    "retention.ms": ("-1", "-2"),
    "segment.bytes": ("1048576", "0"),
    "segment.index.bytes": ("4096", "0"),
    "segment.jitter.ms": ("100", "-1"),
    "segment.ms": ("60000", "0"),
    "unclean.leader.election.enable": ("false", "maybe"),
}


def test_every_kafka_topic_config_is_known():
    from hpbroker.config import TOPIC_CONFIGS

    assert set(TOPIC_CONFIGS) == set(KAFKA_TOPIC_CONFIGS)
    for name, (good, bad) in KAFKA_TOPIC_CONFIGS.items():
        assert validate_topic_configs({name: good}) == {name: good}
        with pytest.raises(ConfigError):
            validate_topic_configs({name: bad})
        # the default parses too (DescribeConfigs reports it)
        TOPIC_CONFIGS[name].parse(TOPIC_CONFIGS[name].default)


def test_the_brokers_compression_type_is_checked_like_the_topics():
    """It is every topic's default: a value the Produce path cannot map to a codec is refused
    where it is set (static file, or AlterConfigs on the broker)."""
    from hpbroker.config import validate_broker_dynamic_configs

    assert BrokerConfig({"compression.type": "zstd"}).get("compression.type") == "zstd"
    with pytest.raises(ConfigError):
        BrokerConfig({"compression.type": "brotli"})
    with pytest.raises(ConfigError):
        validate_broker_dynamic_configs({"compression.type": "brotli"})


def test_retention_and_roll_in_coarser_units():
    """Kafka's server.properties sets log.retention.hours; minutes win over hours and the ms
    property over both; any negative retention is unlimited (KafkaConfig.logRetentionTimeMillis)."""
    c = BrokerConfig({"log.retention.hours": "24", "log.roll.hours": "2", "log.roll.jitter.hours": "1"})
    assert c.topic_default("retention.ms") == ("86400000", SOURCE_STATIC_BROKER_CONFIG)
    assert c.topic_default("segment.ms") == ("7200000", SOURCE_STATIC_BROKER_CONFIG)
    assert c.topic_default("segment.jitter.ms") == ("3600000", SOURCE_STATIC_BROKER_CONFIG)
    assert c.get("log.retention.ms") == 86400000
    assert BrokerConfig({"log.retention.hours": "24", "log.retention.minutes": "5"}).topic_default(
        "retention.ms")[0] == "300000"
    c = BrokerConfig({"log.retention.hours": "24", "log.retention.minutes": "5", "log.retention.ms": "1000"})
    assert c.topic_default("retention.ms")[0] == "1000"
    c.dynamic = {"log.retention.ms": "2000"}
    assert c.topic_default("retention.ms") == ("2000", SOURCE_DYNAMIC_BROKER_CONFIG)
    assert BrokerConfig({"log.retention.hours": "-1"}).topic_default("retention.ms")[0] == "-1"
    assert BrokerConfig({"log.retention.minutes": "-7"}).topic_default("retention.ms")[0] == "-1"
    c = BrokerConfig({})
    assert c.topic_default("retention.ms") == ("604800000", SOURCE_DEFAULT_CONFIG)
    assert c.raw("log.retention.minutes") is None and c.raw("log.retention.hours") == "168"
    assert c.effective_topic_config({})["segment.ms"] == "604800000"
    with pytest.raises(ConfigError, match="^log.roll.hours: "):
        BrokerConfig({"log.roll.hours": "0"})
    with pytest.raises(ConfigError, match="^log.retention.hours: "):
        BrokerConfig({"log.retention.hours": "a week"})


def test_unused_properties_are_named():
    c = BrokerConfig({"zookeeper.connect": "zk:2181", "log.retension.ms": "5", "log.retention.hours": "1",
                      "compression.zstd.level": "3", "num.partitions": "2"})
    assert c.unused_names() == ["log.retension.ms", "zookeeper.connect"]
