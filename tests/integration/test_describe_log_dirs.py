"""DescribeLogDirs from real tools: kafka-python's ``describe_log_dirs`` and ``hpbroker log-dirs
describe`` (kafka-log-dirs --describe), in both broker modes; sizes follow what was produced."""

import json
import subprocess
import sys

import pytest
from confluent_kafka import Producer

from tests.integration.conftest import create_topic

pytestmark = pytest.mark.integration


def _produce(bootstrap, topic, counts, size=1000):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for partition, n in counts.items():
        for _ in range(n):
            p.produce(topic, b"v" * size, partition=partition)
    assert p.flush(30) == 0


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "hpbroker", "log-dirs", "describe", *args], capture_output=True, text=True, timeout=60
    )


def _sizes_from_kafka_python(bootstrap, topic):
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        (answer,) = admin.describe_log_dirs()
    finally:
        admin.close()
    assert answer["broker"] == 0
    sizes = {}
    for d in answer["log_dirs"]:
        assert d["error_code"] == 0 and d["usable_bytes"] > 0
        for t in d["topics"]:
            if t["name"] == topic:
                sizes.update({p["partition_index"]: p["partition_size"] for p in t["partitions"]})
    return sizes


def test_kafka_python_sees_each_partition_grow(bootstrap, topic_name):
    create_topic(bootstrap, topic_name, partitions=3)
    _produce(bootstrap, topic_name, {0: 200, 1: 20})
    # a Produce is answered after its batch is in the segment file, so the sizes are final here
    sizes = _sizes_from_kafka_python(bootstrap, topic_name)
    assert set(sizes) == {0, 1, 2}
    assert sizes[0] > 200_000 and 20_000 < sizes[1] < sizes[0] and sizes[2] == 0
    _produce(bootstrap, topic_name, {2: 50})
    later = _sizes_from_kafka_python(bootstrap, topic_name)
    assert later[0] == sizes[0] and later[1] == sizes[1] and later[2] > 50_000


def test_cli_table_json_and_errors(bootstrap, topic_name):
    create_topic(bootstrap, topic_name, partitions=2)
    _produce(bootstrap, topic_name, {1: 10})
    r = _cli("--bootstrap", bootstrap, "--topic-list", topic_name, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["version"] == 1 and [b["broker"] for b in doc["brokers"]] == [0]
    (log_dir,) = doc["brokers"][0]["logDirs"]
    assert log_dir["error"] is None
    parts = {p["partition"]: p for p in log_dir["partitions"]}
    assert set(parts) == {f"{topic_name}-0", f"{topic_name}-1"}  # only the topic asked for
    assert parts[f"{topic_name}-0"]["size"] == 0 and parts[f"{topic_name}-1"]["size"] > 10_000
    assert parts[f"{topic_name}-1"] | {"size": 0} == {
        "partition": f"{topic_name}-1",
        "size": 0,
        "offsetLag": 0,
        "isFuture": False,
    }

    r = _cli("--bootstrap", bootstrap)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0] == ["BROKER", "LOG-DIR", "TOPIC", "PARTITION", "SIZE", "OFFSET-LAG"]
    mine = [row for row in rows if len(row) == 6 and row[2] == topic_name]
    assert [(row[3], int(row[4]) > 10_000) for row in mine] == [("0", False), ("1", True)]
    assert ["BROKER", "LOG-DIR", "TOTAL-BYTES", "USABLE-BYTES", "ERROR"] in rows

    r = _cli("--bootstrap", bootstrap, "--topic-list", topic_name + "-missing")
    assert r.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in r.stderr
    r = _cli("--bootstrap", bootstrap, "--broker-list", "7")
    assert r.returncode == 1 and "broker 7 is not in the cluster" in r.stderr
