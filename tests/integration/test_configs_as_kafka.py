"""Topic and broker configs as Kafka 3.x takes them, through real admin clients (confluent-kafka's
AdminClient, kafka-python's KafkaAdminClient): legacy values Kafka still takes, every dynamic
broker config Kafka lets an operator change (this broker's, and the cluster-wide defaults of the
resource ""), and Kafka's refusals of the rest.

Neither client's high-level API names the broker resource "" (both want an integer id), so the
cluster-wide defaults go through kafka-python's own request classes, sent to broker 0.
"""

import time

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from hpbroker.testing import running_broker
from tests.integration.conftest import mode_args, mode_broker

pytestmark = pytest.mark.integration

TOPIC_CONFIG, DYNAMIC_BROKER, DYNAMIC_DEFAULT, STATIC, DEFAULT = 1, 2, 3, 4, 5
SET, DELETE = AlterConfigOpType.SET, AlterConfigOpType.DELETE


def _kp_admin(bootstrap):
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)


def _kp_send(kp, request):
    """One request to broker 0 through kafka-python's connection manager and encoders."""

    async def send():
        return await kp._manager.send(request, node_id=0)

    return kp._manager.run(send)


def _cluster_default(bootstrap, *ops, legacy=False):
    """Incremental (or legacy, ``legacy``) AlterConfigs on the broker resource "":
    [(error_code, error_message)]."""
    from kafka.protocol.admin import AlterConfigsRequest, IncrementalAlterConfigsRequest

    kp = _kp_admin(bootstrap)
    try:
        if legacy:
            request = AlterConfigsRequest(resources=[(4, "", [(n, v) for n, _, v in ops])], validate_only=False)
        else:
            request = IncrementalAlterConfigsRequest(
                resources=[(4, "", [(n, int(op.value), v) for n, op, v in ops])], validate_only=False
            )
        return [(r.error_code, r.error_message) for r in _kp_send(kp, request).responses]
    finally:
        kp.close()


def _describe_cluster_default(bootstrap):
    from kafka.protocol.admin import DescribeConfigsRequest

    kp = _kp_admin(bootstrap)
    try:
        (result,) = _kp_send(kp, DescribeConfigsRequest(resources=[(4, "", None)], include_synonyms=True)).results
        assert result.error_code == 0
        return {c.name: (c.value, c.config_source) for c in result.configs}
    finally:
        kp.close()


def _incremental(bootstrap, rtype, name, *ops):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(
        rtype, name, incremental_configs=[ConfigEntry(n, v, incremental_operation=op) for n, op, v in ops]
    )
    return admin.incremental_alter_configs([res])[res].result(timeout=15)


def _describe(bootstrap, rtype, name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(rtype, name)
    return admin.describe_configs([res])[res].result(timeout=15)


def _refusal(future) -> tuple[str, str]:
    with pytest.raises(KafkaException) as info:
        future.result(timeout=15)
    err = info.value.args[0]
    return err.name(), err.str()


@pytest.fixture
def admin(bootstrap):
    """confluent-kafka's admin client; the broker's dynamic configs of both levels are cleared
    afterwards (the module's broker is shared)."""
    client = AdminClient({"bootstrap.servers": bootstrap})
    yield client
    res = ConfigResource(ConfigResource.Type.BROKER, "0", set_config={})
    client.alter_configs([res])[res].result(timeout=15)
    assert _cluster_default(bootstrap, legacy=True) == [(0, None)]


def test_old_message_format_versions_are_taken(admin, bootstrap, topic_name):
    """message.format.version as Kafka 3.x reads it: the first three parts of a 0.x version."""
    fs = admin.create_topics([NewTopic(topic_name, 1, 1, config={"message.format.version": "0.10.0.1"})])
    fs[topic_name].result(timeout=15)
    got = _describe(bootstrap, ConfigResource.Type.TOPIC, topic_name)["message.format.version"]
    assert (got.value, got.source) == ("0.10.0.1", TOPIC_CONFIG)
    from kafka.admin import ConfigResource as KPResource
    from kafka.admin import ConfigResourceType

    kp = _kp_admin(bootstrap)
    try:
        for version in ("0.10.2-IV0", "2.8.1", "0.8.2.2", "3.0"):
            result = kp.alter_configs(
                [KPResource(ConfigResourceType.TOPIC, topic_name, configs={"message.format.version": version})]
            )
            assert result == {"topic": {topic_name: "OK"}}, version
        described = kp.describe_configs([KPResource(ConfigResourceType.TOPIC, topic_name)])
        assert described["topic"][topic_name]["message.format.version"]["value"] == "3.0"
        refused = kp.alter_configs(
            [KPResource(ConfigResourceType.TOPIC, topic_name, configs={"message.format.version": "0.10"})]
        )
        assert "InvalidConfigurationError" in refused["topic"][topic_name]
    finally:
        kp.close()


def test_topic_values_are_checked_as_kafka_checks_them(admin, bootstrap, topic_name):
    """An empty cleanup.policy and any negative retention.bytes are Kafka values; a segment
    smaller than a record's overhead is not."""
    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    _incremental(
        bootstrap, ConfigResource.Type.TOPIC, topic_name, ("cleanup.policy", SET, ""), ("retention.bytes", SET, "-2")
    )
    got = _describe(bootstrap, ConfigResource.Type.TOPIC, topic_name)
    assert (got["cleanup.policy"].value, got["retention.bytes"].value) == ("", "-2")
    res = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic_name,
        incremental_configs=[ConfigEntry("segment.bytes", "13", incremental_operation=SET)],
    )
    code, message = _refusal(admin.incremental_alter_configs([res])[res])
    assert (
        code == "INVALID_CONFIG"
        and "Invalid value 13 for configuration segment.bytes: Value must be at least 14" in message
    )


def test_legacy_versions_in_the_properties_file():
    """log.message.format.version and inter.broker.protocol.version in their old forms start the
    broker and are reported as static configs; a new topic inherits the message format."""
    with mode_broker(
        config={"log.message.format.version": "0.10.0.1", "inter.broker.protocol.version": "0.10.2.1"}
    ) as b:
        broker = _describe(b.bootstrap, ConfigResource.Type.BROKER, "0")
        for name, value in (("log.message.format.version", "0.10.0.1"), ("inter.broker.protocol.version", "0.10.2.1")):
            assert (broker[name].value, broker[name].source, broker[name].is_read_only) == (value, STATIC, True)
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.create_topics([NewTopic("legacy", 1, 1)])["legacy"].result(timeout=15)
        got = _describe(b.bootstrap, ConfigResource.Type.TOPIC, "legacy")["message.format.version"]
        assert (got.value, got.source) == ("0.10.0.1", STATIC)


# Kafka's dynamic broker configs of every kind, with a value Kafka takes
DYNAMIC = {
    "sasl.kerberos.service.name": "kafka",  # per broker
    "sasl.kerberos.principal.to.local.rules": "RULE:[1:$1](.*),DEFAULT",
    "ssl.cipher.suites": "TLS_AES_128_GCM_SHA256",
    "ssl.client.auth": "requested",
    "principal.builder.class": "com.example.PrincipalBuilder",
    "listener.name.plaintext.ssl.keystore.location": "/etc/kafka/ks.jks",
    "listener.name.plaintext.ssl.keystore.password": "secret",
    "num.io.threads": "3",  # cluster-wide, thread pools (within double the multi-process mode's 2)
    "num.network.threads": "3",
    "background.threads": "8",
    "log.cleaner.threads": "2",
    "log.cleaner.io.max.bytes.per.second": "1048576.0",
    "leader.replication.throttled.rate": "10485760",
    "max.connection.creation.rate": "100",
    "metric.reporters": "com.example.Reporter",
    "producer.id.expiration.ms": "3600000",
    "log.message.downconversion.enable": "false",
    "log.segment.delete.delay.ms": "1000",
    "unclean.leader.election.enable": "true",
    "my.plugin.setting": "anything",  # a custom config, which Kafka stores for plugins
}


def test_every_kind_of_dynamic_broker_config_is_taken_and_reported(admin, bootstrap):
    """IncrementalAlterConfigs on broker 0, then DescribeConfigs: each value with the source
    DYNAMIC_BROKER_CONFIG; passwords and custom configs never shown, as Kafka."""
    _incremental(bootstrap, ConfigResource.Type.BROKER, "0", *((n, SET, v) for n, v in DYNAMIC.items()))
    got = _describe(bootstrap, ConfigResource.Type.BROKER, "0")
    for name, value in DYNAMIC.items():
        hidden = name.endswith("password") or name == "my.plugin.setting"
        assert (got[name].value, got[name].source, got[name].is_sensitive) == (
            None if hidden else value,
            DYNAMIC_BROKER,
            hidden,
        ), name
    assert got["sasl.kerberos.service.name"].is_read_only is False
    assert got["broker.id"].is_read_only is True
    # legacy AlterConfigs replaces the whole set, as Kafka's does
    res = ConfigResource(ConfigResource.Type.BROKER, "0", set_config={"ssl.protocol": "TLSv1.2"})
    admin.alter_configs([res])[res].result(timeout=15)
    got = _describe(bootstrap, ConfigResource.Type.BROKER, "0")
    assert (got["ssl.protocol"].value, got["ssl.protocol"].source) == ("TLSv1.2", DYNAMIC_BROKER)
    assert (got["sasl.kerberos.service.name"].value, got["sasl.kerberos.service.name"].source) == (None, DEFAULT)
    assert "my.plugin.setting" not in got


def test_kafka_python_alters_what_describe_calls_dynamic(admin, bootstrap):
    """kafka-python's alter_configs first checks each name against DescribeConfigs' dynamic
    (not read-only) configs, then sends IncrementalAlterConfigs or AlterConfigs."""
    from kafka.admin import ConfigResource as KPResource
    from kafka.admin import ConfigResourceType

    kp = _kp_admin(bootstrap)
    try:
        for incremental, name, value in (
            (True, "sasl.kerberos.service.name", "kafka"),
            (False, "log.cleaner.backoff.ms", "5000"),
        ):
            result = kp.alter_configs(
                [KPResource(ConfigResourceType.BROKER, "0", configs={name: value})], incremental=incremental
            )
            assert result == {"broker": {"0": "OK"}}
            described = kp.describe_configs([KPResource(ConfigResourceType.BROKER, "0", configs=[name])])
            assert described["broker"]["0"][name]["value"] == value
            assert described["broker"]["0"][name]["config_source"] == "DYNAMIC_BROKER_CONFIG"
        refused = kp.alter_configs(
            [KPResource(ConfigResourceType.BROKER, "0", configs={"log.dirs": "/x"})], raise_on_unknown=False
        )
        assert refused["broker"]["0"] == (
            "[Error 42] InvalidRequestError: Cannot update these configs dynamically: Set(log.dirs)"
        )
    finally:
        kp.close()


@pytest.mark.parametrize(
    "configs, message",
    [
        ({"broker.id": "1"}, "Cannot update these configs dynamically: Set(broker.id)"),
        (
            {"num.partitions": "3", "log.retention.hours": "1"},
            "Cannot update these configs dynamically: Set(log.retention.hours, num.partitions)",
        ),
        (
            {"log.message.format.version": "3.0"},
            "Cannot update these configs dynamically: Set(log.message.format.version)",
        ),
        (
            {"ssl.keystore.location": "/ks.jks"},
            "These security configs can be dynamically updated only per-listener "
            "using the listener prefix: Set(ssl.keystore.location)",
        ),
        ({"num.io.threads": "none"}, "Invalid value none for configuration num.io.threads: Not a number of type INT"),
        (
            {"background.threads": "100"},
            "Dynamic thread count update validation failed for background.threads=100, "
            "value should not be greater than double the current value 10",
        ),
    ],
)
def test_what_kafka_refuses_to_change(admin, bootstrap, configs, message):
    """INVALID_REQUEST with Kafka's text, for AlterConfigs and IncrementalAlterConfigs alike;
    nothing changes."""
    legacy = ConfigResource(ConfigResource.Type.BROKER, "0", set_config=configs)
    code, text = _refusal(admin.alter_configs([legacy])[legacy])
    assert code == "INVALID_REQUEST" and message in text
    incremental = ConfigResource(
        ConfigResource.Type.BROKER,
        "0",
        incremental_configs=[ConfigEntry(n, v, incremental_operation=SET) for n, v in configs.items()],
    )
    code, text = _refusal(admin.incremental_alter_configs([incremental])[incremental])
    assert code == "INVALID_REQUEST" and message in text
    got = _describe(bootstrap, ConfigResource.Type.BROKER, "0")
    assert all(got[n].source != DYNAMIC_BROKER for n in configs if n in got)


def test_cluster_wide_defaults(admin, bootstrap, topic_name):
    """The resource "" holds the cluster-wide dynamic defaults: described alone with source
    DYNAMIC_DEFAULT_BROKER_CONFIG, below this broker's own dynamic values, above its static ones;
    per-broker configs are refused there with Kafka's text."""
    assert _cluster_default(bootstrap, ("log.retention.ms", SET, "3600000"), ("log.cleaner.threads", SET, "2")) == [
        (0, None)
    ]
    assert _describe_cluster_default(bootstrap) == {
        "log.retention.ms": ("3600000", DYNAMIC_DEFAULT),
        "log.cleaner.threads": ("2", DYNAMIC_DEFAULT),
    }
    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    got = _describe(bootstrap, ConfigResource.Type.TOPIC, topic_name)["retention.ms"]
    assert (got.value, got.source) == ("3600000", DYNAMIC_DEFAULT)
    _incremental(bootstrap, ConfigResource.Type.BROKER, "0", ("log.retention.ms", SET, "7200000"))
    broker = _describe(bootstrap, ConfigResource.Type.BROKER, "0")
    assert (broker["log.retention.ms"].value, broker["log.retention.ms"].source) == ("7200000", DYNAMIC_BROKER)
    assert (broker["log.cleaner.threads"].value, broker["log.cleaner.threads"].source) == ("2", DYNAMIC_DEFAULT)
    got = _describe(bootstrap, ConfigResource.Type.TOPIC, topic_name)["retention.ms"]
    assert (got.value, got.source) == ("7200000", DYNAMIC_BROKER)
    assert _cluster_default(bootstrap, ("sasl.kerberos.service.name", SET, "kafka")) == [
        (
            42,
            "Cannot update these configs at default cluster level, broker id must be specified: "
            "Set(sasl.kerberos.service.name)",
        )
    ]
    assert _cluster_default(bootstrap, ("log.retention.ms", DELETE, None)) == [(0, None)]
    assert _describe_cluster_default(bootstrap) == {"log.cleaner.threads": ("2", DYNAMIC_DEFAULT)}


def test_dynamic_configs_of_both_levels_survive_a_restart(tmp_path):
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=mode_args()) as b:
        _incremental(
            b.bootstrap,
            ConfigResource.Type.BROKER,
            "0",
            ("sasl.kerberos.service.name", SET, "kafka"),
            ("listener.name.plaintext.ssl.keystore.location", SET, "/ks.jks"),
        )
        assert _cluster_default(b.bootstrap, ("log.cleaner.threads", SET, "2")) == [(0, None)]
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=mode_args()) as b:
        got = _describe(b.bootstrap, ConfigResource.Type.BROKER, "0")
        assert (got["sasl.kerberos.service.name"].value, got["sasl.kerberos.service.name"].source) == (
            "kafka",
            DYNAMIC_BROKER,
        )
        assert got["listener.name.plaintext.ssl.keystore.location"].source == DYNAMIC_BROKER
        assert (got["log.cleaner.threads"].value, got["log.cleaner.threads"].source) == ("2", DYNAMIC_DEFAULT)
        assert _describe_cluster_default(b.bootstrap) == {"log.cleaner.threads": ("2", DYNAMIC_DEFAULT)}


def test_timestamp_difference_limits_both_directions(admin, bootstrap, topic_name):
    """message.timestamp.difference.max.ms, deprecated but still applied by Kafka 3.x to the
    before/after limits left at their defaults: a record an hour old is refused."""
    admin.create_topics([NewTopic(topic_name, 1, 1, config={"message.timestamp.difference.max.ms": "60000"})])[
        topic_name
    ].result(timeout=15)
    p = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 10000, "retries": 0})
    delivered = []
    now_ms = int(time.time() * 1000)
    for ts in (now_ms - 3_600_000, now_ms):
        p.produce(topic_name, b"v", timestamp=ts, on_delivery=lambda err, msg: delivered.append(err))
        p.flush(15)
    assert [e.name() if e else None for e in delivered] == ["INVALID_TIMESTAMP", None]


def test_a_cluster_wide_default_applies_to_every_partition(admin, bootstrap, topic_name):
    """A topic default set on the resource "" is in force wherever the topic's partitions are
    written (in the multi-process topology, the two partitions belong to different handlers):
    a record an hour old is refused on each."""
    admin.create_topics([NewTopic(topic_name, 2, 1)])[topic_name].result(timeout=15)
    assert _cluster_default(bootstrap, ("log.message.timestamp.difference.max.ms", SET, "60000")) == [(0, None)]
    p = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 10000, "retries": 0})
    delivered = []
    now_ms = int(time.time() * 1000)
    for partition in (0, 1):
        for ts in (now_ms - 3_600_000, now_ms):
            p.produce(
                topic_name, b"v", partition=partition, timestamp=ts, on_delivery=lambda err, msg: delivered.append(err)
            )
            p.flush(15)
    assert [e.name() if e else None for e in delivered] == ["INVALID_TIMESTAMP", None] * 2
