"""``hpbroker topics list|describe|create|alter|delete`` against a live broker; what the tool did
is checked with a real client (confluent-kafka's AdminClient and a producer)."""

import subprocess
import sys

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from hpbroker.admin.topics import describe_topics, list_topics

pytestmark = pytest.mark.integration


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "hpbroker", "topics", *args], capture_output=True, text=True, timeout=60
    )


def _partitions(bootstrap, name):
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(name, timeout=10)
    return len(md.topics[name].partitions)


def _topic_config(bootstrap, name, key):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    return admin.describe_configs([res])[res].result(timeout=10)[key].value


def test_create_describe_alter_delete(bootstrap, topic_name):
    b = ["--bootstrap", bootstrap]
    out = _cli("create", topic_name, "--partitions", "3", "--config", "retention.ms=3600000", *b)
    assert out.returncode == 0, out.stderr
    assert _partitions(bootstrap, topic_name) == 3
    assert _topic_config(bootstrap, topic_name, "retention.ms") == "3600000"
    assert topic_name in _cli("list", *b).stdout.split()

    described = _cli("describe", topic_name, *b).stdout.splitlines()
    assert described[0].startswith(f"Topic: {topic_name}\tPartitionCount: 3\tReplicationFactor: 1\t")
    assert described[0].endswith("Configs: retention.ms=3600000")
    assert [line.split()[3] for line in described[1:]] == ["0", "1", "2"]  # "Partition: N"

    out = _cli("alter", topic_name, "--partitions", "5", "--config", "cleanup.policy=compact", *b)
    assert out.returncode == 0, out.stderr
    assert _partitions(bootstrap, topic_name) == 5
    # AlterConfigs replaces a topic's whole set: the tool kept retention.ms
    assert _topic_config(bootstrap, topic_name, "cleanup.policy") == "compact"
    assert _topic_config(bootstrap, topic_name, "retention.ms") == "3600000"
    assert _cli("alter", topic_name, "--delete-config", "retention.ms", *b).returncode == 0
    assert _topic_config(bootstrap, topic_name, "retention.ms") == "604800000"  # the default again
    [d] = describe_topics(bootstrap, [topic_name])
    assert d.configs == {"cleanup.policy": "compact"} and len(d.partitions) == 5

    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(topic_name, b"v", partition=4)
    assert p.flush(10) == 0

    assert _cli("delete", topic_name, *b).returncode == 0
    assert topic_name not in list_topics(bootstrap)


def test_errors_are_kafkas_and_exit_1(bootstrap, topic_name):
    b = ["--bootstrap", bootstrap]
    assert _cli("create", topic_name, "--partitions", "2", *b).returncode == 0
    again = _cli("create", topic_name, *b)
    assert again.returncode == 1 and "TOPIC_ALREADY_EXISTS" in again.stderr
    fewer = _cli("alter", topic_name, "--partitions", "1", *b)
    assert fewer.returncode == 1 and "INVALID_PARTITIONS" in fewer.stderr
    bad = _cli("create", topic_name + "-x", "--config", "retention.ms=soon", *b)
    assert bad.returncode == 1 and "INVALID_CONFIG" in bad.stderr
    missing = _cli("describe", topic_name + "-missing", *b)
    assert missing.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in missing.stderr
    assert _cli("delete", topic_name + "-missing", *b).returncode == 1
    assert _cli("alter", topic_name, *b).returncode == 1  # nothing to change
    down = _cli("list", "--bootstrap", "127.0.0.1:1")
    assert down.returncode == 1 and "cannot connect" in down.stderr
    assert _cli("create", topic_name).returncode == 2  # argparse: --bootstrap is required


def test_if_not_exists_and_if_exists(bootstrap, topic_name):
    """kafka-topics.sh's flags: an existing topic for create, a missing one for alter and delete,
    are then not errors; anything else still is."""
    b = ["--bootstrap", bootstrap]
    assert _cli("create", topic_name, "--partitions", "2", "--if-not-exists", *b).returncode == 0
    again = _cli("create", topic_name, "--partitions", "3", "--if-not-exists", *b)
    assert again.returncode == 0 and "already exists" in again.stdout
    assert _partitions(bootstrap, topic_name) == 2  # untouched
    bad = _cli("create", topic_name + "-x", "--config", "retention.ms=soon", "--if-not-exists", *b)
    assert bad.returncode == 1 and "INVALID_CONFIG" in bad.stderr
    missing = topic_name + "-missing"
    for args in (
        ("delete", missing),
        ("alter", missing, "--partitions", "4"),
        ("alter", missing, "--config", "retention.ms=1000"),
    ):
        assert _cli(*args, *b).returncode == 1
        ok = _cli(*args, "--if-exists", *b)
        assert ok.returncode == 0 and "does not exist" in ok.stdout, (args, ok.stderr)
    fewer = _cli("alter", topic_name, "--partitions", "1", "--if-exists", *b)
    assert fewer.returncode == 1 and "INVALID_PARTITIONS" in fewer.stderr
    assert _cli("delete", topic_name, "--if-exists", *b).returncode == 0
    assert topic_name not in list_topics(bootstrap)


def test_list_can_leave_out_internal_topics(bootstrap):
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "topics-cli-internal"})
    try:
        c.list_topics(timeout=10)
        c.subscribe(["any"])
        c.poll(1.0)  # joins a group: __consumer_offsets exists from here on
    finally:
        c.close()
    listed = list_topics(bootstrap)
    assert "__consumer_offsets" in listed and "__consumer_offsets" not in list_topics(bootstrap, True)


@pytest.mark.parametrize("incremental", [True, False], ids=["IncrementalAlterConfigs", "AlterConfigs"])
def test_alter_changes_only_the_named_configs(bootstrap, topic_name, monkeypatch, incremental):
    """With IncrementalAlterConfigs the tool sends only the changes; against a broker without it
    (here: its ApiVersions answer trimmed) it falls back to AlterConfigs with the merged set."""
    from hpbroker.admin import topics as tool
    from hpbroker.admin.client import BrokerConnection

    class OlderBroker(BrokerConnection):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.versions.pop(44, None)

    if not incremental:
        monkeypatch.setattr(tool, "BrokerConnection", OlderBroker)
    sent = []
    real_call = BrokerConnection.call
    monkeypatch.setattr(
        BrokerConnection, "call", lambda self, api, body: (sent.append(api), real_call(self, api, body))[1]
    )
    tool.create_topic(bootstrap, topic_name, 1, 1, {"retention.ms": "3600000", "segment.ms": "7200000"})
    tool.alter_topic(bootstrap, topic_name, set_configs={"cleanup.policy": "compact"}, delete_configs=["segment.ms"])
    assert ("IncrementalAlterConfigs" in sent) == incremental and ("AlterConfigs" in sent) != incremental
    (d,) = tool.describe_topics(bootstrap, [topic_name])
    assert d.configs == {"retention.ms": "3600000", "cleanup.policy": "compact"}
