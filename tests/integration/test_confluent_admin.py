"""confluent-kafka AdminClient against hpbroker: topics, configs, partitions, records."""

import pytest
from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def _err(future):
    with pytest.raises(KafkaException) as e:
        future.result(timeout=15)
    return e.value.args[0]


def test_create_list_describe_delete(admin, topic_name):
    fs = admin.create_topics(
        [
            NewTopic(
                topic_name,
                num_partitions=3,
                replication_factor=1,
                config={"retention.ms": "3600000", "cleanup.policy": "delete"},
            )
        ]
    )
    fs[topic_name].result(timeout=15)
    md = admin.list_topics(timeout=10)
    assert topic_name in md.topics and len(md.topics[topic_name].partitions) == 3
    assert md.controller_id == md.brokers[next(iter(md.brokers))].id

    # configs with their sources
    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name)
    configs = admin.describe_configs([res])[res].result(timeout=15)
    assert configs["retention.ms"].value == "3600000"
    assert configs["retention.ms"].source == 1  # DYNAMIC_TOPIC_CONFIG
    assert configs["segment.bytes"].value == "1073741824"
    assert configs["segment.bytes"].source == 5  # DEFAULT_CONFIG
    for name in (
        "cleanup.policy",
        "retention.bytes",
        "message.timestamp.type",
        "max.message.bytes",
        "min.insync.replicas",
    ):
        assert name in configs

    # already exists, bad partitions, bad replication factor, bad config
    assert _err(admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name]).code() == 36
    assert _err(admin.create_topics([NewTopic(topic_name + "x", 0, 1)])[topic_name + "x"]).code() == 37
    assert _err(admin.create_topics([NewTopic(topic_name + "y", 1, 3)])[topic_name + "y"]).code() == 38
    assert (
        _err(admin.create_topics([NewTopic(topic_name + "z", 1, 1, config={"no.such": "1"})])[topic_name + "z"]).code()
        == 40
    )

    # validate_only creates nothing
    admin.create_topics([NewTopic(topic_name + "v", 2, 1)], validate_only=True)[topic_name + "v"].result(timeout=15)
    assert topic_name + "v" not in admin.list_topics(timeout=10).topics

    # partitions grow, never shrink
    admin.create_partitions([NewPartitions(topic_name, 5)])[topic_name].result(timeout=15)
    assert len(admin.list_topics(timeout=10).topics[topic_name].partitions) == 5
    assert _err(admin.create_partitions([NewPartitions(topic_name, 2)])[topic_name]).code() == 37

    admin.delete_topics([topic_name])[topic_name].result(timeout=15)
    assert topic_name not in admin.list_topics(timeout=10).topics
    assert _err(admin.delete_topics([topic_name])[topic_name]).code() == 3


def test_alter_configs_topic_and_broker(admin, topic_name):
    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name, set_config={"retention.bytes": "12345"})
    admin.alter_configs([res])[res].result(timeout=15)
    configs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic_name)])
    got = list(configs.values())[0].result(timeout=15)
    assert got["retention.bytes"].value == "12345" and got["retention.bytes"].source == 1
    bad = ConfigResource(ConfigResource.Type.TOPIC, topic_name, set_config={"retention.bytes": "lots"})
    assert _err(admin.alter_configs([bad])[bad]).code() == 40
    broker = ConfigResource(ConfigResource.Type.BROKER, "0")
    bconf = admin.describe_configs([broker])[broker].result(timeout=15)
    assert bconf["log.retention.ms"].value == "604800000"
    missing = ConfigResource(ConfigResource.Type.TOPIC, topic_name + "-missing")
    assert _err(admin.describe_configs([missing])[missing]).code() == 3


def test_delete_records(admin, bootstrap, topic_name):
    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(10):
        p.produce(topic_name, value=b"x%d" % i)
    p.flush(10)
    fs = admin.delete_records([TopicPartition(topic_name, 0, 4)])
    r = list(fs.values())[0].result(timeout=15)
    assert r.low_watermark == 4
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "dr"})
    try:
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10) == (4, 10)
    finally:
        c.close()


def test_consumer_offsets_is_written_by_its_coordinators_only(admin, bootstrap, topic_name):
    """Groups are placed by __consumer_offsets' partition count and their state is its records:
    clients may not grow it (INVALID_REQUEST), delete it, delete its records or append to it
    (INVALID_TOPIC_EXCEPTION, as Kafka answers the last two), and the groups' offsets survive."""
    from confluent_kafka import Consumer, KafkaError

    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    group = f"{topic_name}-g"
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic_name, 0, 7)], asynchronous=False)
    finally:
        c.close()
    internal = "__consumer_offsets"
    before = len(admin.list_topics(timeout=10).topics[internal].partitions)
    err = _err(admin.create_partitions([NewPartitions(internal, before + 1)])[internal])
    assert err.code() == 42  # INVALID_REQUEST
    assert internal in err.str()
    assert _err(admin.delete_topics([internal])[internal]).code() == KafkaError.TOPIC_EXCEPTION
    fs = admin.delete_records([TopicPartition(internal, p, -1) for p in range(before)])
    assert {_err(f).code() for f in fs.values()} == {KafkaError.TOPIC_EXCEPTION}
    results = []
    p = Producer({"bootstrap.servers": bootstrap, "message.send.max.retries": 0})
    p.produce(internal, key=b"forged", value=b"state", partition=0, on_delivery=lambda e, m: results.append(e))
    p.flush(10)
    assert results and results[0] is not None and results[0].code() == KafkaError.TOPIC_EXCEPTION
    assert len(admin.list_topics(timeout=10).topics[internal].partitions) == before
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        assert c.committed([TopicPartition(topic_name, 0)], timeout=10)[0].offset == 7
    finally:
        c.close()


def test_kafka_topic_configs_a_client_may_set(admin, topic_name):
    """Configs Kafka knows and tools set at creation (here as Kafka Connect and Streams do) are
    accepted and described with their types; tiered storage is refused as by a Kafka without it."""
    configs = {
        "cleanup.policy": "compact",
        "min.compaction.lag.ms": "100",
        "delete.retention.ms": "500",
        "min.cleanable.dirty.ratio": "0.1",
        "segment.jitter.ms": "5",
        "message.downconversion.enable": "false",
    }
    admin.create_topics([NewTopic(topic_name, 1, 1, config=configs)])[topic_name].result(timeout=15)
    got = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic_name)])
    got = list(got.values())[0].result(timeout=15)
    assert {k: got[k].value for k in configs} == configs
    assert got["max.compaction.lag.ms"].value == "9223372036854775807" and got["max.compaction.lag.ms"].source == 5
    bad = NewTopic(topic_name + "-r", 1, 1, config={"remote.storage.enable": "true"})
    assert _err(admin.create_topics([bad])[topic_name + "-r"]).code() == 40


def test_describe_cluster(admin, broker):
    """AdminClient.describe_cluster (DescribeCluster): the cluster id Metadata gives, this node as
    broker and controller, and every cluster operation when asked (no authorizer)."""
    from confluent_kafka.admin import AclOperation

    got = admin.describe_cluster(request_timeout=10).result(timeout=15)
    host, port = broker.bootstrap.rsplit(":", 1)
    md = admin.list_topics(timeout=10)
    assert got.cluster_id == md.cluster_id and got.controller.id == md.controller_id
    assert [(n.id, n.host, n.port) for n in got.nodes] == [(md.controller_id, host, int(port))]
    assert got.authorized_operations is None
    ops = admin.describe_cluster(include_authorized_operations=True).result(timeout=15).authorized_operations
    assert {AclOperation.DESCRIBE, AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE} <= set(ops)


def test_kafka_python_describe_cluster_and_authorized_operations(admin, bootstrap, topic_name):
    """kafka-python sends DescribeCluster itself (v1); confluent-kafka asks Metadata for topic
    operations and DescribeGroups for a group's: a broker without authorizer allows them all."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AclOperation
    from kafka.admin import KafkaAdminClient

    kp = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        got = kp.describe_cluster()
    finally:
        kp.close()
    md = admin.list_topics(timeout=10)
    assert got["cluster_id"] == md.cluster_id and got["controller_id"] == md.controller_id
    assert [b["broker_id"] for b in got["brokers"]] == [md.controller_id]

    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    described = admin.describe_topics(_topic_collection([topic_name]), include_authorized_operations=True)
    ops = set(described[topic_name].result(timeout=15).authorized_operations)
    assert {AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE} <= ops
    group = topic_name + "-g"
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic_name, 0, 1)], asynchronous=False)
    c.close()
    g = admin.describe_consumer_groups([group], include_authorized_operations=True)[group].result(timeout=15)
    assert {AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE} == set(g.authorized_operations)


def _topic_collection(names):
    from confluent_kafka import TopicCollection

    return TopicCollection(names)
