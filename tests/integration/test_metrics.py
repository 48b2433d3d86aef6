"""The metrics endpoint (metrics.port) after real-client traffic, parsed with prometheus-client's
own parser, in the topology under test (one process, or 2 processors and 2 handlers adding up
their regions)."""

import socket
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from prometheus_client.parser import text_string_to_metric_families

from hpbroker.testing import wait_until
from tests.integration.conftest import create_topic, mode_broker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int, accept: str | None = None) -> dict:
    """{(sample name, sorted labels): value} of one scrape."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def value(port, name, **labels):
    return scrape(port).get((name, tuple(sorted(labels.items()))))


@pytest.fixture(scope="module")
def metered():
    port = free_port()
    with mode_broker(config={"metrics.port": port, "group.initial.rebalance.delay.ms": 0}) as b:
        b.extra["metrics_port"] = port
        yield b


def test_messages_and_bytes_in_and_out_per_topic_count_the_traffic_exactly(metered):
    port = metered.extra["metrics_port"]
    topic = create_topic(metered.bootstrap, f"metered-{uuid.uuid4().hex[:6]}", partitions=3)
    producer = Producer({"bootstrap.servers": metered.bootstrap, "linger.ms": 5})
    for i in range(1000):
        producer.produce(topic, key=str(i).encode(), value=b"v" * 100, partition=i % 3)
    assert producer.flush(15) == 0
    wait_until(
        lambda: value(port, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == 1000,
        15,
        "messages-in of the topic at 1,000",
    )
    bytes_in = value(port, "kafka_server_brokertopicmetrics_bytesin_total", topic=topic)
    assert bytes_in > 1000 * 100
    m = scrape(port)
    produce = sum(
        v
        for (n, labels), v in m.items()
        if n == "kafka_network_requestmetrics_requests_total" and ("request", "Produce") in labels
    )
    assert produce >= 1
    assert m[("kafka_network_requestmetrics_totaltimems_count", (("request", "Produce"),))] == produce
    assert m[("kafka_network_requestmetrics_requestbytes_sum", (("request", "Produce"),))] > bytes_in
    assert m[("kafka_network_requestmetrics_localtimems_count", (("request", "Produce"),))] >= produce

    consumer = Consumer(
        {
            "bootstrap.servers": metered.bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen = 0

    def consumed():
        nonlocal seen
        for msg in consumer.consume(500, 0.5):
            if msg.error() is None:
                seen += 1
        return seen >= 1000

    try:
        wait_until(consumed, 30, "1,000 records consumed")
        # every batch was read once: what went out is what came in
        wait_until(
            lambda: value(port, "kafka_server_brokertopicmetrics_bytesout_total", topic=topic) == bytes_in,
            15,
            "bytes-out of the topic equal to its bytes-in",
        )
        wait_until(
            lambda: value(port, "kafka_coordinator_group_groupmetadatamanager_numgroupsstable") == 1,
            15,
            "one Stable group",
        )
    finally:
        consumer.close()
    m = scrape(port)
    assert m[("kafka_server_brokertopicmetrics_totalfetchrequests_total", (("topic", topic),))] >= 3
    assert m[("kafka_server_brokertopicmetrics_messagesin_total", ())] >= 1000
    fetch = [
        k for k in m if k[0] == "kafka_network_requestmetrics_requests_total" and ("request", "FetchConsumer") in k[1]
    ]
    assert fetch and m[("kafka_network_requestmetrics_totaltimems_count", (("request", "FetchConsumer"),))] >= 1


def test_gauges_connections_and_openmetrics(metered):
    port = metered.extra["metrics_port"]
    topic = create_topic(metered.bootstrap, f"gauged-{uuid.uuid4().hex[:6]}", partitions=4)
    producer = Producer({"bootstrap.servers": metered.bootstrap})
    producer.produce(topic, b"x")
    assert producer.flush(10) == 0

    def partitions_counted():
        m = scrape(port)
        total = m.get(("kafka_server_replicamanager_partitioncount", ()))
        return (
            total is not None
            and total == m.get(("kafka_controller_kafkacontroller_globalpartitioncount", ()))
            and total >= 4
        )

    wait_until(partitions_counted, 15, "every partition counted once, across processes")
    m = scrape(port)
    assert m[("kafka_server_replicamanager_leadercount", ())] == m[("kafka_server_replicamanager_partitioncount", ())]
    assert m[("kafka_server_replicamanager_underreplicatedpartitions", ())] == 0
    assert m[("kafka_controller_kafkacontroller_activecontrollercount", ())] == 1
    assert m[("kafka_controller_kafkacontroller_offlinepartitionscount", ())] == 0
    connections = sum(
        v
        for (n, labels), v in m.items()
        if n == "kafka_server_socket_server_metrics_connection_count" and ("listener", "PLAINTEXT") in labels
    )
    assert connections >= 1
    created = sum(
        v for (n, labels), v in m.items() if n == "kafka_server_socket_server_metrics_connection_creation_total"
    )
    assert created >= connections
    assert 0 <= m[("kafka_network_socketserver_networkprocessoravgidle_percent", ())] <= 1
    assert 0 <= m[("kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent", ())] <= 1
    assert ("kafka_server_delayedoperationpurgatory_purgatorysize", (("delayedOperation", "Fetch"),)) in m
    om = scrape(port, accept="application/openmetrics-text; version=1.0.0")
    assert om[("kafka_server_brokertopicmetrics_messagesin_total", (("topic", topic),))] == 1


def test_no_endpoint_without_metrics_port():
    port = free_port()
    with mode_broker() as b:
        producer = Producer({"bootstrap.servers": b.bootstrap})
        producer.produce("quiet", b"x")
        assert producer.flush(10) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
