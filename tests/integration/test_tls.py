"""TLS listeners with real clients: confluent-kafka, kafka-python, aiokafka and kcat over SSL,
with and without client certificates, and what a TLS listener refuses (garbage instead of a
ClientHello, a stalled handshake, expired or untrusted client certificates, a certificate for
another host), the broker serving on."""

import asyncio
import socket
import ssl
import subprocess
import time
import uuid

import pytest
from confluent_kafka import KafkaException

from hpbroker.testing import wait_until
from tests.integration.conftest import mode_broker
from tests.security.certs import make_certs, tls_broker_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("certs")))


@pytest.fixture(scope="module")
def tls_broker(certs):
    """A broker asking for client certificates (requested): clients with and without one."""
    with mode_broker(
        config=tls_broker_config(certs, "requested", **{"socket.connection.setup.timeout.ms": "1500"})
    ) as b:
        yield b


def _confluent_ssl(certs, with_cert=False):
    conf = {"security.protocol": "SSL", "ssl.ca.location": certs.ca}
    if with_cert:
        conf.update({"ssl.certificate.location": certs.client_cert, "ssl.key.location": certs.client_key})
    return conf


def _roundtrip_confluent(bootstrap, extra, n=200):
    from confluent_kafka import Consumer, Producer

    topic = f"tls-{uuid.uuid4().hex[:8]}"
    p = Producer({"bootstrap.servers": bootstrap, **extra})
    for i in range(n):
        p.produce(topic, value=b"x" * 1000 + str(i).encode())
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{topic}", "auto.offset.reset": "earliest", **extra})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        c.close()
    assert len(got) == n and got[-1].endswith(str(n - 1).encode())


def test_confluent_over_ssl_without_and_with_a_client_certificate(tls_broker, certs):
    bootstrap = tls_broker.listeners["SSL"]
    _roundtrip_confluent(bootstrap, _confluent_ssl(certs))
    _roundtrip_confluent(bootstrap, _confluent_ssl(certs, with_cert=True))


def test_large_fetches_over_ssl(tls_broker, certs):
    """Fetch answers of several MB: file regions read in chunks and encrypted whole."""
    from confluent_kafka import Consumer, Producer

    topic = f"tls-big-{uuid.uuid4().hex[:8]}"
    extra = _confluent_ssl(certs)
    p = Producer({"bootstrap.servers": tls_broker.listeners["SSL"], "linger.ms": 50, **extra})
    payload = bytes(range(256)) * 400  # 100 KB, not compressible to nothing
    for i in range(60):
        p.produce(topic, value=payload + i.to_bytes(4, "big"))
    assert p.flush(30) == 0
    c = Consumer(
        {
            "bootstrap.servers": tls_broker.listeners["SSL"],
            "group.id": f"g-{topic}",
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": 8 << 20,
            **extra,
        }
    )
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < 60 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        c.close()
    assert [int.from_bytes(v[-4:], "big") for v in got] == list(range(60))
    assert all(v[:-4] == payload for v in got)


def test_kafka_python_over_ssl(tls_broker, certs):
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"tls-kp-{uuid.uuid4().hex[:8]}"
    common = dict(
        bootstrap_servers=tls_broker.listeners["SSL"],
        security_protocol="SSL",
        ssl_cafile=certs.ca,
        ssl_certfile=certs.client_cert,
        ssl_keyfile=certs.client_key,
    )
    producer = KafkaProducer(**common)
    for i in range(50):
        producer.send(topic, str(i).encode())
    producer.flush(30)
    producer.close()
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=10000, **common)
    try:
        assert [m.value for m in consumer][:50] == [str(i).encode() for i in range(50)]
    finally:
        consumer.close()


def test_aiokafka_over_ssl(tls_broker, certs):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.helpers import create_ssl_context

    topic = f"tls-ak-{uuid.uuid4().hex[:8]}"

    async def run():
        context = create_ssl_context(cafile=certs.ca)
        common = dict(bootstrap_servers=tls_broker.listeners["SSL"], security_protocol="SSL", ssl_context=context)
        producer = AIOKafkaProducer(**common)
        await producer.start()
        try:
            for i in range(30):
                await producer.send_and_wait(topic, str(i).encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **common)
        await consumer.start()
        got = []
        try:
            while len(got) < 30:
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=500), 20)
                for msgs in batch.values():
                    got.extend(m.value for m in msgs)
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(run()) == [str(i).encode() for i in range(30)]


def test_kcat_over_ssl_with_a_client_certificate(tls_broker, certs):
    topic = f"tls-kcat-{uuid.uuid4().hex[:8]}"
    args = [
        "-b",
        tls_broker.listeners["SSL"],
        "-X",
        "security.protocol=ssl",
        "-X",
        f"ssl.ca.location={certs.ca}",
        "-X",
        f"ssl.certificate.location={certs.client_cert}",
        "-X",
        f"ssl.key.location={certs.client_key}",
    ]
    subprocess.run(["kcat", *args, "-P", "-t", topic], input=b"one\ntwo\nthree\n", check=True, timeout=30)
    out = subprocess.run(
        ["kcat", *args, "-C", "-t", topic, "-o", "beginning", "-e", "-q"], capture_output=True, check=True, timeout=30
    )
    assert out.stdout.split() == [b"one", b"two", b"three"]


def _closed_by_peer(sock) -> bool:
    """Read until the broker closes (a TLS alert may come first); False on a timeout."""
    sock.settimeout(10)
    try:
        while sock.recv(1024):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def _log(broker):
    if broker.process is not None:
        return "".join(broker.extra["log"])
    return None


def _serves(broker, certs):
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": broker.listeners["SSL"], **_confluent_ssl(certs)})
    return admin.list_topics(timeout=10) is not None


def test_garbage_and_stalled_handshakes_are_closed_and_the_broker_serves_on(tls_broker, certs):
    host, port = tls_broker.listeners["SSL"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as garbage:
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
        assert _closed_by_peer(garbage)
    stalled = socket.create_connection((host, int(port)), timeout=10)
    try:
        start = time.monotonic()
        assert _closed_by_peer(stalled)  # by the broker: socket.connection.setup.timeout.ms (1.5 s here)
        assert 1.0 < time.monotonic() - start < 8
    finally:
        stalled.close()
    assert _serves(tls_broker, certs)


def _handshake_with(certs, host, port, certfile, keyfile):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(certs.ca)
    context.load_cert_chain(certfile, keyfile)
    with socket.create_connection((host, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as s:
            # TLS 1.3: the server's verdict on our certificate arrives with the first read
            s.sendall(b"\x00\x00\x00\x00")
            return s.recv(1024)


def test_bad_client_certificates_are_refused_with_the_reason_logged(certs):
    config = tls_broker_config(certs, "required")
    with mode_broker(config=config, subprocess=True) as b:
        host, port = b.listeners["SSL"].rsplit(":", 1)
        for cert, key, reason in (
            (certs.expired_cert, certs.expired_key, "certificate has expired"),
            (certs.rogue_cert, certs.rogue_key, "unable to get local issuer certificate"),
        ):
            with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
                _handshake_with(certs, host, int(port), cert, key)
            wait_until(lambda r=reason: r in "".join(b.extra["log"]), 10, f"the broker to log {reason!r}")
        log = "".join(b.extra["log"])
        assert "127.0.0.1" in log and "TLS handshake failed" in log
        # no certificate at all, where one is required: refused too
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(
            {"bootstrap.servers": b.listeners["SSL"], **_confluent_ssl(certs), "socket.timeout.ms": 3000}
        )
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=5)
        # a client with a good certificate is served
        admin = AdminClient({"bootstrap.servers": b.listeners["SSL"], **_confluent_ssl(certs, with_cert=True)})
        assert admin.list_topics(timeout=10).brokers


def test_a_certificate_for_another_host_is_refused_by_the_client(certs):
    config = tls_broker_config(certs, "none", **{"ssl.keystore.location": certs.wrong_host})
    with mode_broker(config=config, subprocess=True) as b:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(
            {
                "bootstrap.servers": b.listeners["SSL"].replace("127.0.0.1", "localhost"),
                **_confluent_ssl(certs),
                "ssl.endpoint.identification.algorithm": "https",
            }
        )
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=5)
        wait_until(lambda: "TLS handshake failed" in "".join(b.extra["log"]), 10, "the broker to log the refusal")
        assert "certificate" in "".join(b.extra["log"]).lower()
