"""The metrics endpoint (metrics.port) after real-client traffic, parsed with prometheus-client's
own parser, in the topology under test (one process, or 2 processors and 2 handlers adding up
their regions)."""

import os
import signal
import socket
import urllib.error
import urllib.request
import uuid

import psutil
import pytest
from confluent_kafka import Consumer, Producer
from prometheus_client.parser import text_string_to_metric_families

from hpbroker.testing import running_broker, wait_until
from tests.integration.conftest import MULTIPROC_ARGS, create_topic, mode_broker


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


def _children(broker):
    return {psutil.Process(c.pid).name(): c.pid for c in psutil.Process(broker.process.pid).children()}


def test_one_endpoint_adds_up_every_process_and_outlives_their_restarts():
    """Multi-process topology: a metrics process serves what 2 processors and 2 handlers count;
    a handler killed and restarted goes on counting where it stopped, and so does the endpoint."""
    port = free_port()
    with running_broker(subprocess=True, args=MULTIPROC_ARGS, config={"metrics.port": port}) as b:
        wait_until(lambda: len(_children(b)) == 5, 15, "five children")
        assert sorted(_children(b)) == ["hpb-h0", "hpb-h1", "hpb-m0", "hpb-p0", "hpb-p1"]
        topic = create_topic(b.bootstrap, "restarts", partitions=4)  # partitions of both handlers

        def produce(n):
            producer = Producer({"bootstrap.servers": b.bootstrap, "enable.idempotence": True})
            for i in range(n):
                producer.produce(topic, value=b"r", partition=i % 4)
            assert producer.flush(30) == 0

        produce(100)
        wait_until(
            lambda: value(port, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == 100, 15, "100 in"
        )
        old = _children(b)["hpb-h1"]
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: _children(b).get("hpb-h1") not in (None, old), 30, "handler 1 restarted")
        produce(100)
        wait_until(
            lambda: value(port, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == 200, 30, "200 in"
        )
        os.kill(_children(b)["hpb-m0"], signal.SIGKILL)

        def served_again():
            try:
                return value(port, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == 200
            except OSError:
                return False

        wait_until(served_again, 30, "the restarted metrics process serving the same counts")


def test_consumer_lag_per_group_and_partition_as_the_coordinator_computes_it(metered):
    port = metered.extra["metrics_port"]
    topic = create_topic(metered.bootstrap, f"lagged-{uuid.uuid4().hex[:6]}", partitions=2)
    group = f"lag-{uuid.uuid4().hex[:6]}"
    producer = Producer({"bootstrap.servers": metered.bootstrap})

    def produce(n):
        for i in range(n):
            producer.produce(topic, value=b"l", partition=i % 2)
        assert producer.flush(15) == 0

    produce(100)
    consumer = Consumer(
        {
            "bootstrap.servers": metered.bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen = 0

    def consumed():
        nonlocal seen
        seen += sum(1 for m in consumer.consume(100, 0.5) if m.error() is None)
        return seen >= 100

    try:
        wait_until(consumed, 30, "100 records consumed")
        consumer.commit(asynchronous=False)
        produce(30)  # 15 more on each partition, not consumed
        for p in (0, 1):
            wait_until(
                lambda p=p: (
                    value(port, "kafka_consumergroup_lag", consumergroup=group, topic=topic, partition=str(p)) == 15
                ),
                15,
                f"a lag of 15 on partition {p}",
            )
        m = scrape(port)
        labels = (("consumergroup", group), ("partition", "0"), ("topic", topic))
        assert m[("kafka_consumergroup_current_offset", labels)] == 50
        assert m[("kafka_consumergroup_lag_sum", (("consumergroup", group), ("topic", topic)))] == 30
        assert m[("kafka_consumergroup_members", (("consumergroup", group),))] == 1
        assert m[("kafka_log_log_logendoffset", (("partition", "1"), ("topic", topic)))] == 65
        assert m[("kafka_log_log_size", (("partition", "1"), ("topic", topic)))] > 0
        assert any(n == "hpbroker_log_dir_free_bytes" for n, _ in m)
    finally:
        consumer.close()


def _listener_total(m, name, listener):
    """A socket-server metric of one listener, added up over the processes that report it."""
    return sum(v for (n, labels), v in m.items() if n == name and ("listener", listener) in labels)


def test_connections_and_authentications_are_counted_per_listener(tmp_path):
    """A SASL listener beside the PLAINTEXT one: each connection counts under the listener it came
    in on, a wrong password as a failed authentication of that listener, a good one as a
    successful one (Kafka's socket-server-metrics, per listener)."""
    from tests.integration.test_sasl import _raw_plain_login

    port = free_port()
    config = {
        "metrics.port": port,
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
            'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";'
        ),
        "connection.failed.authentication.delay.ms": "0",
    }
    with mode_broker(config=config) as b:
        host, sasl_port = b.listeners["SASL_PLAINTEXT"].rsplit(":", 1)
        with socket.create_connection((host, int(sasl_port)), timeout=10) as bad:
            assert _raw_plain_login(bad, "alice", "wrong")["error_code"] == 58  # SASL_AUTHENTICATION_FAILED
        with socket.create_connection((host, int(sasl_port)), timeout=10) as good:
            assert _raw_plain_login(good, "alice", "alice-secret")["error_code"] == 0

            def counted():
                m = scrape(port)
                return (
                    _listener_total(
                        m, "kafka_server_socket_server_metrics_failed_authentication_total", "SASL_PLAINTEXT"
                    )
                    == 1
                    and _listener_total(
                        m, "kafka_server_socket_server_metrics_successful_authentication_total", "SASL_PLAINTEXT"
                    )
                    == 1
                    and _listener_total(m, "kafka_server_socket_server_metrics_connection_count", "SASL_PLAINTEXT") == 1
                )

            wait_until(counted, 15, "the SASL listener's connection and its two authentications counted")
        m = scrape(port)
        assert _listener_total(m, "kafka_server_socket_server_metrics_failed_authentication_total", "PLAINTEXT") == 0


def test_tls_connections_and_their_requests_are_counted_per_listener(tmp_path):
    """An SSL listener beside the PLAINTEXT one: a client's connections count under SSL, its
    Produce requests in the request metrics once their encrypted answers have left, and a
    handshake refused (garbage instead of a ClientHello) as a failed authentication of SSL."""
    from tests.security.certs import make_certs, tls_broker_config

    certs = make_certs(str(tmp_path / "certs"))
    port = free_port()
    config = tls_broker_config(certs, **{"metrics.port": port})
    with mode_broker(config=config) as b:
        ssl_conf = {"bootstrap.servers": b.listeners["SSL"], "security.protocol": "SSL", "ssl.ca.location": certs.ca}
        topic = create_topic(b.bootstrap, f"tls-metered-{uuid.uuid4().hex[:6]}", partitions=1)
        producer = Producer({**ssl_conf, "linger.ms": 0})
        for i in range(20):
            producer.produce(topic, value=b"v" * 100)
            producer.flush(15)
        assert producer.flush(15) == 0

        def produce_requests(m):
            return sum(
                v
                for (n, labels), v in m.items()
                if n == "kafka_network_requestmetrics_requests_total" and ("request", "Produce") in labels
            )

        def counted():
            m = scrape(port)
            return (
                produce_requests(m) >= 20
                and m.get(("kafka_network_requestmetrics_totaltimems_count", (("request", "Produce"),))) is not None
                and m[("kafka_network_requestmetrics_totaltimems_count", (("request", "Produce"),))] >= 20
                and _listener_total(m, "kafka_server_socket_server_metrics_connection_count", "SSL") >= 1
                and _listener_total(m, "kafka_server_socket_server_metrics_connection_creation_total", "SSL") >= 1
            )

        wait_until(counted, 15, "the SSL listener's connections and the Produce requests over TLS counted")
        host, ssl_port = b.listeners["SSL"].rsplit(":", 1)
        with socket.create_connection((host, int(ssl_port)), timeout=10) as garbage:
            garbage.sendall(b"\x00\x00\x00\x10not a client hello")
            wait_until(
                lambda: (
                    _listener_total(
                        scrape(port), "kafka_server_socket_server_metrics_failed_authentication_total", "SSL"
                    )
                    == 1
                ),
                15,
                "the refused handshake counted as a failed authentication of SSL",
            )
        m = scrape(port)
        assert _listener_total(m, "kafka_server_socket_server_metrics_connection_creation_total", "PLAINTEXT") >= 1
        assert _listener_total(m, "kafka_server_socket_server_metrics_failed_authentication_total", "PLAINTEXT") == 0


def test_the_console_reaches_the_broker_on_a_plaintext_listener_listed_after_an_ssl_one(tmp_path):
    """The console's own client has no credentials: it asks the broker on the first PLAINTEXT
    listener, not on the first listener (502, "cannot be reached", before)."""
    from tests.security.certs import make_certs, tls_broker_config

    certs = make_certs(str(tmp_path / "certs"))
    port = free_port()
    config = tls_broker_config(
        certs, **{"metrics.port": port, "listeners": "SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0"}
    )
    with mode_broker(config=config) as b:
        create_topic(b.listeners["PLAINTEXT"], "seen-by-the-console", partitions=1)

        def page():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
                    return resp.status, resp.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, ""

        wait_until(lambda: page()[0] == 200 and "seen-by-the-console" in page()[1], 30, "the console's topic list")
