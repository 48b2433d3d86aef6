"""Broker and topic configs: reading, layers and sources, and every validator against Kafka's
(Kafka 3.x: LogConfig, KafkaConfig, DynamicBrokerConfig)."""

import pytest

from hpbroker.config import (
    BROKER_CONFIGS,
    SOURCE_DEFAULT_CONFIG,
    SOURCE_DYNAMIC_BROKER_CONFIG,
    SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG,
    SOURCE_STATIC_BROKER_CONFIG,
    TOPIC_CONFIGS,
    BrokerConfig,
    ConfigError,
    DynamicConfigRefused,
    read_properties,
    validate_broker_dynamic_configs,
    validate_topic_configs,
)
from hpbroker.configdef.types import CLUSTER_WIDE, PER_BROKER, READ_ONLY


def test_properties_file(tmp_path):
    p = tmp_path / "server.properties"
    p.write_text(
        "# comment\n! also\nlisteners=PLAINTEXT://0.0.0.0:9093\nlog.dirs = /a,/b\nnum.partitions: 3\n"
        "long.value=a\\\n  b\n"
    )
    props = read_properties(str(p))
    assert props == {
        "listeners": "PLAINTEXT://0.0.0.0:9093",
        "log.dirs": "/a,/b",
        "num.partitions": "3",
        "long.value": "ab",
    }


def test_sources_and_topic_defaults():
    c = BrokerConfig({"log.retention.ms": "1000", "num.partitions": "2"})
    assert c.get("num.partitions") == 2
    assert c.topic_default("retention.ms") == ("1000", SOURCE_STATIC_BROKER_CONFIG)
    assert c.topic_default("segment.bytes") == ("1073741824", SOURCE_DEFAULT_CONFIG)
    c.dynamic_default = {"log.retention.ms": "6", "log.segment.bytes": "2000"}
    assert c.topic_default("retention.ms") == ("6", SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG)
    c.dynamic = {"log.retention.ms": "5"}
    assert c.topic_default("retention.ms") == ("5", SOURCE_DYNAMIC_BROKER_CONFIG)
    assert c.topic_default("segment.bytes") == ("2000", SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG)
    assert c.effective_topic_config({"retention.ms": "7"})["retention.ms"] == "7"
    assert c.synonyms("log.retention.ms") == [
        ("log.retention.ms", "5", SOURCE_DYNAMIC_BROKER_CONFIG),
        ("log.retention.ms", "6", 3),
        ("log.retention.ms", "1000", SOURCE_STATIC_BROKER_CONFIG),
        ("log.retention.ms", "604800000", 5),
    ]
    assert c.synonyms("log.retention.ms", cluster_default_only=True) == [("log.retention.ms", "6", 3)]


def test_generation_moves_only_when_a_layer_changes():
    c = BrokerConfig()
    g = c.generation
    c.follow({}, {})
    assert c.generation == g
    c.follow({"log.retention.ms": "5"}, {})
    c.follow({"log.retention.ms": "5"}, {"message.max.bytes": "5"})
    assert c.generation == g + 2 and c.dynamic_default == {"message.max.bytes": "5"}


def test_a_dynamic_value_without_effect_is_reported_not_applied():
    """listeners, num.io.threads ...: the broker runs with the static value; DescribeConfigs
    reports the dynamic one, as Kafka would."""
    c = BrokerConfig({"listeners": "PLAINTEXT://127.0.0.1:9999"})
    c.dynamic = {"listeners": "PLAINTEXT://127.0.0.1:7777", "num.io.threads": "4", "log.retention.ms": "5"}
    assert c.value_and_source("listeners") == ("PLAINTEXT://127.0.0.1:7777", SOURCE_DYNAMIC_BROKER_CONFIG)
    assert c.raw("listeners") == "PLAINTEXT://127.0.0.1:9999"
    assert c.get("num.io.threads") is None and c.value("num.io.threads") == "4"
    assert c.get("log.retention.ms") == 5  # applied


def test_errors_are_kafkas():
    with pytest.raises(
        ConfigError, match="^Invalid value abc for configuration log.retention.ms: Not a number of type LONG$"
    ):
        BrokerConfig({"log.retention.ms": "abc"})
    with pytest.raises(
        ConfigError, match="^Invalid value -5 for configuration retention.ms: Value must be at least -1$"
    ):
        validate_topic_configs({"segment.bytes": "1048576", "retention.ms": "-5"})
    with pytest.raises(
        ConfigError,
        match="^Invalid value archive for configuration cleanup.policy: String must be one of: compact, delete$",
    ):
        validate_topic_configs({"cleanup.policy": "compact,archive"})
    with pytest.raises(
        ConfigError,
        match="^Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1$",
    ):
        validate_topic_configs({"min.cleanable.dirty.ratio": "1.5"})
    with pytest.raises(
        ConfigError,
        match="^Invalid value maybe for configuration preallocate: Expected value to be either true or false$",
    ):
        validate_topic_configs({"preallocate": "maybe"})
    with pytest.raises(ConfigError, match="^Unknown topic config name: unknown.config$"):
        validate_topic_configs({"unknown.config": "1"})


def test_values_are_read_as_kafka_reads_them():
    """Trimmed; booleans in any case; integers within their type; lists split on commas."""
    assert validate_topic_configs({"preallocate": " TRUE "}) == {"preallocate": " TRUE "}  # stored as given
    assert TOPIC_CONFIGS["preallocate"].parse(" TRUE ") is True
    assert TOPIC_CONFIGS["cleanup.policy"].parse(" compact , delete") == "compact,delete"
    assert TOPIC_CONFIGS["retention.ms"].parse("+5") == 5
    assert TOPIC_CONFIGS["min.cleanable.dirty.ratio"].parse("1e-1") == 0.1
    for name, bad in (
        ("segment.bytes", "2147483648"),
        ("retention.ms", "9223372036854775808"),
        ("retention.ms", "1_000"),
        ("retention.ms", "1.0"),
        ("retention.ms", ""),
    ):
        with pytest.raises(ConfigError, match="Not a number of type"):
            TOPIC_CONFIGS[name].parse(bad)
    with pytest.raises(ConfigError, match="Not a number of type SHORT"):
        BROKER_CONFIGS["sasl.login.refresh.buffer.seconds"].parse("40000")


def test_socket_buffers():
    for bad in ("0", "-2", "lots"):  # a buffer of -1 (the kernel's) or of at least a byte
        with pytest.raises(ConfigError):
            BrokerConfig({"socket.send.buffer.bytes": bad})
    cfg = BrokerConfig({"socket.send.buffer.bytes": "65536"})
    assert (cfg.get("socket.send.buffer.bytes"), cfg.get("socket.receive.buffer.bytes")) == (65536, -1)
    assert BrokerConfig({}).get("socket.send.buffer.bytes") == 102400  # Kafka's default


@pytest.mark.parametrize(
    "name, bad, good",
    [
        ("compression.zstd.level", "23", "3"),
        ("compression.gzip.level", "10", "9"),
        ("log.preallocate", "maybe", "true"),
        ("log.roll.jitter.ms", "-1", "0"),
        ("log.message.timestamp.difference.max.ms", "soon", "1000"),
        ("log.message.format.version", "0.10", "0.10.0.1"),
        ("inter.broker.protocol.version", "latest", "2.8"),
    ],
)
def test_static_topic_defaults_checked_at_start(name, bad, good):
    """Broker properties that give a topic config its default are checked as that config when the
    broker starts (Kafka refuses to start), not when a topic first uses them."""
    with pytest.raises(ConfigError, match=f"^Invalid value {bad} for configuration {name}: "):
        BrokerConfig({name: bad})
    assert BrokerConfig({name: good}).raw(name) == good


# every topic config of Kafka 3.x, with values Kafka takes and values it refuses
KAFKA_TOPIC_CONFIGS = {
    "cleanup.policy": (["compact,delete", "", "delete"], ["archive", "compact,"]),
    "compression.type": (["zstd", "uncompressed"], ["brotli", "ZSTD"]),
    "compression.gzip.level": (["9", "-1"], ["10", "0"]),
    "compression.lz4.level": (["17"], ["0", "18"]),
    "compression.zstd.level": (["-5", "-131072"], ["23", "-131073"]),
    "delete.retention.ms": (["1000", "0"], ["-1"]),
    "file.delete.delay.ms": (["0"], ["soon"]),
    "flush.messages": (["1"], ["0"]),
    "flush.ms": (["1000", "0"], ["-1"]),
    "follower.replication.throttled.replicas": (["0:1,1:1", "*", "", "0:1,,1:1"], ["all", "0-1"]),
    "index.interval.bytes": (["1024", "0"], ["-1"]),
    "leader.replication.throttled.replicas": (["*", " 0:1 , 2:1"], ["0-1", "*,0:1"]),
    "local.retention.bytes": (["-2"], ["-3"]),
    "local.retention.ms": (["-2"], ["-3"]),
    "max.compaction.lag.ms": (["60000"], ["0"]),
    "max.message.bytes": (["2000000", "0"], ["-1"]),
    "message.downconversion.enable": (["false", "False"], ["no"]),
    # Kafka's MetadataVersion: the first three parts of 0.x, the first two of later versions
    "message.format.version": (
        [
            "3.0-IV1",
            "0.10.0",
            "0.10.0.0",
            "0.10.0.1",
            "0.10.0-IV1",
            "0.8.2",
            "1.0",
            "2.8",
            "2.8.1",
            "2.8-IV1",
            "3.6",
            "3.9-IV0",
        ],
        ["latest", "0.10", "3", "3.0-IV9", "4.0"],
    ),
    "message.timestamp.after.max.ms": (["1000"], ["-1"]),
    "message.timestamp.before.max.ms": (["1000"], ["-1"]),
    "message.timestamp.difference.max.ms": (["1000"], ["-1"]),
    "message.timestamp.type": (["LogAppendTime"], ["WallClock", "createtime"]),
    "min.cleanable.dirty.ratio": (["0.1", "1", "0"], ["1.5", "-0.1"]),
    "min.compaction.lag.ms": (["1000"], ["-1"]),
    "min.insync.replicas": (["1"], ["0"]),
    "preallocate": (["true", "TRUE"], ["1"]),
    "remote.storage.enable": (["false"], ["true"]),  # no tiered storage: Kafka's answer without it
    "retention.bytes": (["-1", "-2", "0"], ["lots"]),  # Kafka has no lower bound: negative is unlimited
    "retention.ms": (["-1", "0"], ["-2"]),
    "segment.bytes": (["1048576", "14"], ["13", "2147483648"]),
    "segment.index.bytes": (["4096", "12"], ["11"]),  # Kafka: 4 (intended difference, docs/configuration.md)
    "segment.jitter.ms": (["100"], ["-1"]),
    "segment.ms": (["60000"], ["0"]),
    "unclean.leader.election.enable": (["false"], ["maybe"]),
}


def test_every_kafka_topic_config_is_known_and_checked_as_kafka_checks_it():
    assert set(TOPIC_CONFIGS) == set(KAFKA_TOPIC_CONFIGS)
    for name, (goods, bads) in KAFKA_TOPIC_CONFIGS.items():
        for good in goods:
            assert validate_topic_configs({name: good}) == {name: good}, (name, good)
        for bad in bads:
            with pytest.raises(ConfigError):
                validate_topic_configs({name: bad})
                pytest.fail(f"{name}={bad!r} accepted")
        TOPIC_CONFIGS[name].parse(TOPIC_CONFIGS[name].default)  # the default parses (it is reported)


def test_compaction_lags_are_checked_together():
    """Kafka's LogConfig.validateValues, on the topic's whole config (its broker's defaults)."""
    with pytest.raises(
        ConfigError,
        match=r"^conflict topic config setting min.compaction.lag.ms \(5\) > "
        r"max.compaction.lag.ms \(4\)$",
    ):
        validate_topic_configs({"min.compaction.lag.ms": "5", "max.compaction.lag.ms": "4"})
    broker = BrokerConfig({"log.cleaner.max.compaction.lag.ms": "100"})
    assert validate_topic_configs({"min.compaction.lag.ms": "50"}, broker)
    with pytest.raises(ConfigError, match="conflict topic config setting"):
        validate_topic_configs({"min.compaction.lag.ms": "500"}, broker)


def test_every_topic_default_is_a_broker_property():
    """Kafka's topic config synonyms; three topic configs have no broker default (Kafka's
    LogConfig.CONFIGS_WITH_NO_SERVER_DEFAULTS)."""
    no_default = {n for n, d in TOPIC_CONFIGS.items() if d.broker_property is None}
    assert no_default == {
        "remote.storage.enable",
        "leader.replication.throttled.replicas",
        "follower.replication.throttled.replicas",
    }
    for d in TOPIC_CONFIGS.values():
        if d.broker_property:
            b = BROKER_CONFIGS[d.broker_property]
            assert (b.config_type, b.default) == (d.config_type, d.default) or d.name == "retention.ms", d.name


def test_the_brokers_compression_type_is_checked_like_the_topics():
    """It is every topic's default: a value the Produce path cannot map to a codec is refused
    where it is set (static file, or AlterConfigs on the broker)."""
    assert BrokerConfig({"compression.type": "zstd"}).get("compression.type") == "zstd"
    with pytest.raises(ConfigError):
        BrokerConfig({"compression.type": "brotli"})
    with pytest.raises(DynamicConfigRefused, match="Invalid value brotli for configuration compression.type"):
        validate_broker_dynamic_configs(BrokerConfig(), {"compression.type": "brotli"})


def test_retention_and_roll_in_coarser_units():
    """Kafka's server.properties sets log.retention.hours; minutes win over hours and the ms
    property over both; any negative retention is unlimited (KafkaConfig.logRetentionTimeMillis)."""
    c = BrokerConfig({"log.retention.hours": "24", "log.roll.hours": "2", "log.roll.jitter.hours": "1"})
    assert c.topic_default("retention.ms") == ("86400000", SOURCE_STATIC_BROKER_CONFIG)
    assert c.topic_default("segment.ms") == ("7200000", SOURCE_STATIC_BROKER_CONFIG)
    assert c.topic_default("segment.jitter.ms") == ("3600000", SOURCE_STATIC_BROKER_CONFIG)
    assert c.get("log.retention.ms") == 86400000
    assert (
        BrokerConfig({"log.retention.hours": "24", "log.retention.minutes": "5"}).topic_default("retention.ms")[0]
        == "300000"
    )
    c = BrokerConfig({"log.retention.hours": "24", "log.retention.minutes": "5", "log.retention.ms": "1000"})
    assert c.topic_default("retention.ms")[0] == "1000"
    c.dynamic = {"log.retention.ms": "2000"}
    assert c.topic_default("retention.ms") == ("2000", SOURCE_DYNAMIC_BROKER_CONFIG)
    assert BrokerConfig({"log.retention.hours": "-1"}).topic_default("retention.ms")[0] == "-1"
    assert BrokerConfig({"log.retention.minutes": "-7"}).topic_default("retention.ms")[0] == "-1"
    assert BrokerConfig({"log.retention.ms": "-7"}).topic_default("retention.ms")[0] == "-1"
    c = BrokerConfig({})
    assert c.topic_default("retention.ms") == ("604800000", SOURCE_DEFAULT_CONFIG)
    assert c.raw("log.retention.minutes") is None and c.raw("log.retention.hours") == "168"
    assert c.effective_topic_config({})["segment.ms"] == "604800000"
    with pytest.raises(ConfigError, match="^Invalid value 0 for configuration log.roll.hours: "):
        BrokerConfig({"log.roll.hours": "0"})
    with pytest.raises(ConfigError, match="^Invalid value a week for configuration log.retention.hours: "):
        BrokerConfig({"log.retention.hours": "a week"})
    # Kafka's requirement on the value it runs with: unlimited (-1) or at least 1 ms
    for props in ({"log.retention.ms": "0"}, {"log.retention.minutes": "0"}):
        with pytest.raises(ConfigError, match="^requirement failed: log.retention.ms must be unlimited"):
            BrokerConfig(props)


def test_other_synonyms():
    """log.dir when log.dirs is not set; log.flush.scheduler.interval.ms for log.flush.interval.ms."""
    c = BrokerConfig({"log.dir": "/var/kafka", "log.flush.scheduler.interval.ms": "2000"})
    assert c.get("log.dirs") == "/var/kafka"
    assert c.topic_default("flush.ms") == ("2000", SOURCE_STATIC_BROKER_CONFIG)
    assert BrokerConfig({"log.dir": "/x", "log.dirs": "/y"}).get("log.dirs") == "/y"
    with pytest.raises(ConfigError, match="At least one log directory must be defined"):
        BrokerConfig({"log.dirs": ""})
    # a topic default given through a synonym is checked as the topic config, as Kafka builds
    # its default log config at start-up
    with pytest.raises(ConfigError, match="^Invalid value -5 for configuration flush.ms: Value must be at least 0$"):
        BrokerConfig({"log.flush.scheduler.interval.ms": "-5"})


def test_node_id_unset_is_minus_one():
    from hpbroker.server.broker import node_id_of

    assert node_id_of(BrokerConfig({"broker.id": "3"})) == 3
    assert node_id_of(BrokerConfig({"broker.id": "3", "node.id": "-1"})) == 3
    assert node_id_of(BrokerConfig({"broker.id": "3", "node.id": "4"})) == 4
    with pytest.raises(ConfigError):
        BrokerConfig({"node.id": "-2"})


def test_listeners_are_checked_as_kafka_checks_them():
    BrokerConfig({"listeners": "PLAINTEXT://:9092,SSL://localhost:9093"})
    for props, message in (
        ({"listeners": "localhost:9092"}, "Unable to parse localhost:9092 to a broker endpoint"),
        ({"listeners": "FOO://:9092"}, "No security protocol defined for listener FOO"),
        ({"listeners": "PLAINTEXT://:9092,PLAINTEXT://:9093"}, "Each listener must have a different name"),
        ({"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, "cannot use the nonroutable meta-address"),
        (
            {"listeners": "PLAINTEXT://:9092", "advertised.listeners": "PLAINTEXT://h:1,SSL://h:2"},
            "advertised.listeners listener names must be equal to or a subset",
        ),
        ({"listeners": "SSL://:9093"}, "inter.broker.listener.name must be a listener name defined"),
    ):
        with pytest.raises(ConfigError, match=message):
            BrokerConfig(props)
    BrokerConfig(
        {
            "listeners": "FOO://:9092",
            "listener.security.protocol.map": "FOO:PLAINTEXT",
            "inter.broker.listener.name": "FOO",
        }
    )


def test_unused_properties_are_named():
    c = BrokerConfig(
        {
            "zookeeper.set.acl": "true",
            "log.retension.ms": "5",
            "log.retention.hours": "1",
            "compression.zstd.level": "3",
            "num.partitions": "2",
            "listener.name.x.ssl.protocol": "TLS",
        }
    )
    assert c.unused_names() == ["log.retension.ms", "zookeeper.set.acl"]


# Kafka 3.6's DynamicBrokerConfig.AllDynamicConfigs (with DynamicConfig.Broker's quotas), and the
# update mode of each (dynamicConfigUpdateModes: per-broker for TLS, SASL and listener configs)
KAFKA_PER_BROKER = """
ssl.keystore.type ssl.keystore.location ssl.keystore.password ssl.key.password ssl.truststore.type
ssl.truststore.location ssl.truststore.password ssl.keystore.certificate.chain ssl.keystore.key
ssl.truststore.certificates advertised.listeners listeners listener.security.protocol.map principal.builder.class
ssl.protocol ssl.provider ssl.cipher.suites ssl.enabled.protocols ssl.keymanager.algorithm
ssl.trustmanager.algorithm ssl.endpoint.identification.algorithm ssl.secure.random.implementation ssl.client.auth
ssl.engine.factory.class sasl.mechanism.inter.broker.protocol sasl.jaas.config sasl.enabled.mechanisms
sasl.kerberos.service.name sasl.kerberos.kinit.cmd sasl.kerberos.ticket.renew.window.factor
sasl.kerberos.ticket.renew.jitter sasl.kerberos.min.time.before.relogin sasl.kerberos.principal.to.local.rules
sasl.login.refresh.window.factor sasl.login.refresh.window.jitter sasl.login.refresh.min.period.seconds
sasl.login.refresh.buffer.seconds
""".split()
KAFKA_CLUSTER_WIDE = """
log.cleaner.threads log.cleaner.dedupe.buffer.size log.cleaner.io.buffer.load.factor log.cleaner.io.buffer.size
message.max.bytes log.cleaner.io.max.bytes.per.second log.cleaner.backoff.ms log.segment.bytes log.roll.ms
log.roll.jitter.ms log.index.size.max.bytes log.flush.interval.messages log.flush.interval.ms log.retention.bytes
log.retention.ms log.index.interval.bytes log.cleaner.delete.retention.ms log.cleaner.min.compaction.lag.ms
log.cleaner.max.compaction.lag.ms log.segment.delete.delay.ms log.cleaner.min.cleanable.ratio log.cleanup.policy
unclean.leader.election.enable min.insync.replicas compression.type log.preallocate log.message.timestamp.type
log.message.timestamp.difference.max.ms log.message.timestamp.before.max.ms log.message.timestamp.after.max.ms
log.message.downconversion.enable log.local.retention.ms log.local.retention.bytes num.io.threads
num.replica.fetchers num.recovery.threads.per.data.dir background.threads metric.reporters max.connections
max.connection.creation.rate num.network.threads max.connections.per.ip max.connections.per.ip.overrides
producer.id.expiration.ms transaction.partition.verification.enable leader.replication.throttled.rate
follower.replication.throttled.rate replica.alter.log.dirs.io.max.bytes.per.second
compression.gzip.level compression.lz4.level compression.zstd.level
""".split()


def test_every_dynamic_broker_config_of_kafka_is_dynamic_here():
    for names, mode in ((KAFKA_PER_BROKER, PER_BROKER), (KAFKA_CLUSTER_WIDE, CLUSTER_WIDE)):
        for name in names:
            assert BROKER_CONFIGS[name].mode == mode, name
    dynamic = set(KAFKA_PER_BROKER) | set(KAFKA_CLUSTER_WIDE)
    assert {n for n, d in BROKER_CONFIGS.items() if d.mode != READ_ONLY} == dynamic
    for d in BROKER_CONFIGS.values():
        if d.default is not None:
            d.parse(d.default)  # every default parses (DescribeConfigs reports it)
        assert d.doc and d.doc.strip() == d.doc


@pytest.mark.parametrize(
    "props, per_broker, message",
    [
        ({"broker.id": "3"}, True, r"^Cannot update these configs dynamically: Set\(broker.id\)$"),
        (
            {"num.partitions": "3", "log.dirs": "/x", "log.retention.ms": "5"},
            True,
            r"^Cannot update these configs dynamically: Set\(log.dirs, num.partitions\)$",
        ),
        ({"zookeeper.connect": "zk:2181"}, True, r"Set\(zookeeper.connect\)"),
        ({"zookeeper.set.acl": "true"}, True, r"Set\(zookeeper.set.acl\)"),  # Kafka's, though not defined here
        ({"log.message.format.version": "3.0"}, True, r"Set\(log.message.format.version\)"),
        ({"log.retention.hours": "5"}, True, r"Set\(log.retention.hours\)"),
        (
            {"ssl.keystore.location": "/ks"},
            True,
            "^These security configs can be dynamically updated only per-listener "
            r"using the listener prefix: Set\(ssl.keystore.location\)$",
        ),
        (
            {"sasl.kerberos.service.name": "kafka"},
            False,
            "^Cannot update these configs at default cluster level, broker "
            r"id must be specified: Set\(sasl.kerberos.service.name\)$",
        ),
        ({"listener.name.plaintext.ssl.protocol": "TLSv1.2"}, False, "at default cluster level"),
        (
            {"compression.type": "brotli"},
            True,
            "^Invalid value brotli for configuration compression.type: String must be",
        ),
        (
            {"listener.name.x.max.connections": "-1"},
            True,
            "^Invalid value -1 for configuration max.connections: Value must be at least 0$",
        ),
        (
            {"max.connections.per.ip": "0"},
            False,
            "^requirement failed: max.connections.per.ip can be set to zero only "
            "if max.connections.per.ip.overrides property is set.$",
        ),
        ({"log.retention.ms": "0"}, True, "^requirement failed: log.retention.ms must be unlimited"),
        (
            {"log.cleaner.threads": "3"},
            False,
            "^Invalid value org.apache.kafka.common.config.ConfigException: Log cleaner "
            "threads cannot be increased to more than double the current value 1 for "
            "configuration Invalid dynamic configuration$",
        ),
        ({"log.cleaner.threads": "0"}, True, "^/ by zero$"),
        (
            {"background.threads": "4"},
            True,
            "Dynamic thread count update validation failed for background.threads=4, "
            "value should be at least half the current value 10",
        ),
        ({"num.replica.fetchers": "0"}, True, "background.threads|num.replica.fetchers=0, value should be at least 1"),
        ({"log.local.retention.ms": "-1"}, False, "Value must not be -1 as log.retention.ms value is set as 604800000"),
        (
            {"listeners": "PLAINTEXT://:1", "advertised.listeners": "PLAINTEXT://h:1,SSL://h:2"},
            True,
            "advertised.listeners listener names must be",
        ),
    ],
)
def test_dynamic_changes_kafka_refuses(props, per_broker, message):
    with pytest.raises(DynamicConfigRefused, match=message):
        validate_broker_dynamic_configs(BrokerConfig(), props, per_broker)


@pytest.mark.parametrize(
    "props, per_broker",
    [
        ({"log.retention.ms": "-5", "log.segment.bytes": "14", "message.max.bytes": "0"}, False),
        ({"sasl.kerberos.service.name": "kafka", "ssl.cipher.suites": "", "ssl.client.auth": "required"}, True),
        (
            {
                "listener.name.sasl_ssl.ssl.keystore.location": "/ks",
                "listener.name.sasl_ssl.ssl.keystore.password": "pw",
                "listener.name.sasl_ssl.plain.sasl.jaas.config": "x required;",
            },
            True,
        ),
        ({"listener.name.plaintext.max.connections": "10", "max.connection.creation.rate": "5"}, False),
        ({"my.plugin.setting": "anything"}, False),  # a custom config, as Kafka takes for plugins
        (
            {"num.io.threads": "16", "num.network.threads": "4", "log.cleaner.threads": "2", "background.threads": "5"},
            False,
        ),
        ({"leader.replication.throttled.rate": "1048576", "follower.replication.throttled.rate": "1048576"}, True),
        ({"max.connections.per.ip": "0", "max.connections.per.ip.overrides": "127.0.0.1:5"}, True),
        ({"listeners": "PLAINTEXT://:9092,SSL://:9093", "advertised.listeners": "PLAINTEXT://h:9092"}, True),
        (
            {
                "log.message.timestamp.difference.max.ms": "1000",
                "log.message.downconversion.enable": "false",
                "producer.id.expiration.ms": "1000",
                "metric.reporters": "a.B,c.D",
            },
            False,
        ),
    ],
)
def test_dynamic_changes_kafka_takes(props, per_broker):
    assert validate_broker_dynamic_configs(BrokerConfig(), props, per_broker) == props


def test_a_dynamic_change_is_checked_with_the_other_layers():
    """A per-broker change against the cluster-wide defaults and the static file, a cluster-wide
    one against this broker's dynamic values, as Kafka's validatedKafkaProps merges them."""
    static = BrokerConfig({"max.connections.per.ip.overrides": "10.0.0.1:5"})
    validate_broker_dynamic_configs(static, {"max.connections.per.ip": "0"})  # the overrides are static
    c = BrokerConfig()
    c.dynamic = {"max.connections.per.ip.overrides": "10.0.0.1:5"}
    validate_broker_dynamic_configs(c, {"max.connections.per.ip": "0"}, per_broker=False)
    c = BrokerConfig()
    c.dynamic_default = {"max.connections.per.ip": "0", "max.connections.per.ip.overrides": "10.0.0.1:5"}
    with pytest.raises(DynamicConfigRefused, match="can be set to zero only if"):
        validate_broker_dynamic_configs(c, {"max.connections.per.ip.overrides": ""})
    # the thread counts are compared with the value in force, from whichever layer
    c = BrokerConfig({"background.threads": "4"})
    c.dynamic_default = {"background.threads": "8"}
    validate_broker_dynamic_configs(c, {"background.threads": "16"})
    with pytest.raises(DynamicConfigRefused, match="not be greater than double the current value 8"):
        validate_broker_dynamic_configs(c, {"background.threads": "17"})


def test_an_override_host_is_not_resolved_when_the_change_is_checked():
    """Kafka resolves max.connections.per.ip.overrides when it applies them, not when AlterConfigs
    checks them: a name that does not resolve is taken (and the limits stay as they were)."""
    validate_broker_dynamic_configs(BrokerConfig(), {"max.connections.per.ip.overrides": "no-such-host.invalid:1"})
    with pytest.raises(DynamicConfigRefused, match="contains invalid addresses : bad/host"):
        validate_broker_dynamic_configs(BrokerConfig(), {"max.connections.per.ip.overrides": "bad/host:1"})
