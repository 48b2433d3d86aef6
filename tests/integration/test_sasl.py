"""SASL with real clients: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 over SASL_PLAINTEXT and SASL_SSL
(confluent-kafka, kafka-python, aiokafka, kcat), and what a SASL listener refuses: a wrong
password or unknown user (SASL_AUTHENTICATION_FAILED after the delay, logged, connection closed),
requests before authentication, an oversized frame before authentication, a session past
connections.max.reauth.ms."""

import asyncio
import socket
import struct
import subprocess
import tempfile
import time
import uuid

import pytest

from hpbroker import protocol
from hpbroker.security.credentials import FileCredentialStore
from hpbroker.security.scram import make_credential
from hpbroker.testing import wait_until
from tests.integration.conftest import mode_broker
from tests.security.certs import make_certs

pytestmark = pytest.mark.integration

PLAIN_JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";'
)
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def sasl_config(certs, **extra):
    config = {
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        "listener.name.sasl_ssl.plain.sasl.jaas.config": PLAIN_JAAS,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": certs.broker,
        "socket.connection.setup.timeout.ms": "3000",
    }
    config.update(extra)
    return config


def add_scram_users(data_dir, users=(("alice", "alice-secret"),)):
    store = FileCredentialStore(data_dir)
    store.alter({(u, m): make_credential(m, p) for u, p in users for m in ("SCRAM-SHA-256", "SCRAM-SHA-512")}, [])


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("certs")))


@pytest.fixture(scope="module")
def sasl_broker(certs):
    data_dir = tempfile.mkdtemp(prefix="hpbroker-sasl-")
    add_scram_users(data_dir)
    with mode_broker(config=sasl_config(certs), data_dir=data_dir) as b:
        yield b


def confluent_conf(broker, certs, protocol_name, mechanism, user="alice", password="alice-secret"):
    conf = {
        "bootstrap.servers": broker.listeners[protocol_name],
        "security.protocol": protocol_name,
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }
    if protocol_name == "SASL_SSL":
        conf["ssl.ca.location"] = certs.ca
    return conf


def roundtrip(conf, n=20):
    from confluent_kafka import Consumer, Producer

    topic = f"sasl-{uuid.uuid4().hex[:8]}"
    p = Producer(conf)
    for i in range(n):
        p.produce(topic, value=str(i).encode())
    assert p.flush(30) == 0
    c = Consumer({**conf, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
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
    assert got == [str(i).encode() for i in range(n)]


@pytest.mark.parametrize("protocol_name", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_confluent_every_mechanism_on_every_sasl_listener(sasl_broker, certs, protocol_name, mechanism):
    roundtrip(confluent_conf(sasl_broker, certs, protocol_name, mechanism))


@pytest.mark.parametrize(
    "protocol_name, mechanism",
    [("SASL_PLAINTEXT", "PLAIN"), ("SASL_SSL", "SCRAM-SHA-512"), ("SASL_PLAINTEXT", "SCRAM-SHA-256")],
)
def test_kafka_python(sasl_broker, certs, protocol_name, mechanism):
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"sasl-kp-{uuid.uuid4().hex[:8]}"
    common = dict(
        bootstrap_servers=sasl_broker.listeners[protocol_name],
        security_protocol=protocol_name,
        sasl_mechanism=mechanism,
        sasl_plain_username="alice",
        sasl_plain_password="alice-secret",
    )
    if protocol_name == "SASL_SSL":
        common["ssl_cafile"] = certs.ca
    producer = KafkaProducer(**common)
    for i in range(10):
        producer.send(topic, str(i).encode())
    producer.flush(30)
    producer.close()
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=10000, **common)
    try:
        assert [m.value for m in consumer][:10] == [str(i).encode() for i in range(10)]
    finally:
        consumer.close()


@pytest.mark.parametrize("protocol_name, mechanism", [("SASL_PLAINTEXT", "SCRAM-SHA-256"), ("SASL_SSL", "PLAIN")])
def test_aiokafka(sasl_broker, certs, protocol_name, mechanism):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.helpers import create_ssl_context

    topic = f"sasl-ak-{uuid.uuid4().hex[:8]}"

    async def run():
        common = dict(
            bootstrap_servers=sasl_broker.listeners[protocol_name],
            security_protocol=protocol_name,
            sasl_mechanism=mechanism,
            sasl_plain_username="alice",
            sasl_plain_password="alice-secret",
        )
        if protocol_name == "SASL_SSL":
            common["ssl_context"] = create_ssl_context(cafile=certs.ca)
        producer = AIOKafkaProducer(**common)
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(topic, str(i).encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **common)
        await consumer.start()
        got = []
        try:
            while len(got) < 10:
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=500), 20)
                for msgs in batch.values():
                    got.extend(m.value for m in msgs)
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(run()) == [str(i).encode() for i in range(10)]


def test_kcat_scram_over_sasl_ssl(sasl_broker, certs):
    topic = f"sasl-kcat-{uuid.uuid4().hex[:8]}"
    args = ["-b", sasl_broker.listeners["SASL_SSL"]]
    for k, v in (
        ("security.protocol", "sasl_ssl"),
        ("sasl.mechanisms", "SCRAM-SHA-256"),
        ("sasl.username", "alice"),
        ("sasl.password", "alice-secret"),
        ("ssl.ca.location", certs.ca),
    ):
        args += ["-X", f"{k}={v}"]
    subprocess.run(["kcat", *args, "-P", "-t", topic], input=b"a\nb\n", check=True, timeout=30)
    out = subprocess.run(
        ["kcat", *args, "-C", "-t", topic, "-o", "beginning", "-e", "-q"], capture_output=True, check=True, timeout=30
    )
    assert out.stdout.split() == [b"a", b"b"]


@pytest.mark.parametrize(
    "mechanism, user, password",
    [("SCRAM-SHA-256", "alice", "wrong"), ("PLAIN", "nobody", "x"), ("SCRAM-SHA-512", "nobody", "x")],
)
def test_wrong_password_or_unknown_user_is_refused(sasl_broker, certs, mechanism, user, password):
    from confluent_kafka import KafkaError, Producer

    errors = []
    conf = confluent_conf(sasl_broker, certs, "SASL_PLAINTEXT", mechanism, user, password)
    producer = Producer({**conf, "error_cb": errors.append})
    wait_until(
        lambda: producer.poll(0.2) is not None and any(e.code() == KafkaError._AUTHENTICATION for e in errors),
        15,
        "an authentication error",
    )
    assert any("Authentication failed" in e.str() for e in errors), [e.str() for e in errors]


def _frame(api_key, version, body, correlation_id=1):
    return protocol.encode_request(api_key, version, correlation_id, "raw", body)


def _closed(sock) -> bool:
    sock.settimeout(10)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def _sasl_address(broker):
    host, port = broker.listeners["SASL_PLAINTEXT"].rsplit(":", 1)
    return host, int(port)


def test_requests_before_authentication_close_the_connection(sasl_broker, certs):
    with socket.create_connection(_sasl_address(sasl_broker), timeout=10) as s:
        s.sendall(_frame(3, 1, {"topics": None}))  # Metadata first
        assert _closed(s)
    # ApiVersions is allowed and answered
    with socket.create_connection(_sasl_address(sasl_broker), timeout=10) as s:
        s.sendall(_frame(18, 0, {}))
        (size,) = struct.unpack(">i", s.recv(4))
        assert size > 0
    roundtrip(confluent_conf(sasl_broker, certs, "SASL_PLAINTEXT", "PLAIN"), n=1)  # and serves on


def test_an_oversized_frame_before_authentication_is_closed_unbuffered(sasl_broker):
    with socket.create_connection(_sasl_address(sasl_broker), timeout=10) as s:
        s.sendall(struct.pack(">i", 10 << 20) + b"\0" * 100)  # 10 MB announced, above 512 KiB
        assert _closed(s)


def _raw_plain_login(sock, user, password, version=1):
    from hpbroker.protocol import decode_response, decode_response_header

    def call(api_key, v, body, cid):
        sock.sendall(_frame(api_key, v, body, cid))
        (size,) = struct.unpack(">i", _recv(sock, 4))
        frame = _recv(sock, size)
        _, off = decode_response_header(api_key, v, struct.pack(">i", size) + frame, 4)
        return decode_response(api_key, v, struct.pack(">i", size) + frame, off)

    assert call(17, 1, {"mechanism": "PLAIN"}, 1)["error_code"] == 0
    return call(36, version, {"auth_bytes": f"\0{user}\0{password}".encode()}, 2)


def _recv(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def test_a_failed_authentication_is_answered_after_the_delay_then_closed(certs):
    with mode_broker(
        config=sasl_config(certs, **{"connection.failed.authentication.delay.ms": "800"}), subprocess=True
    ) as b:
        with socket.create_connection(_sasl_address(b), timeout=10) as s:
            start = time.monotonic()
            answer = _raw_plain_login(s, "alice", "wrong")
            assert answer["error_code"] == 58  # SASL_AUTHENTICATION_FAILED
            assert time.monotonic() - start >= 0.7
            assert _closed(s)
        wait_until(lambda: "SASL authentication from 127.0.0.1" in "".join(b.extra["log"]), 10, "the failure logged")


def test_sessions_expire_without_reauthentication(certs):
    """connections.max.reauth.ms: SaslAuthenticate v1 tells the client its session lifetime; a
    client that does not re-authenticate is cut off at its next request; librdkafka
    re-authenticates and goes on producing."""
    data_dir = tempfile.mkdtemp(prefix="hpbroker-reauth-")
    add_scram_users(data_dir)
    with mode_broker(config=sasl_config(certs, **{"connections.max.reauth.ms": "1500"}), data_dir=data_dir) as b:
        with socket.create_connection(_sasl_address(b), timeout=10) as s:
            answer = _raw_plain_login(s, "alice", "alice-secret")
            assert answer["error_code"] == 0 and answer["session_lifetime_ms"] == 1500
            time.sleep(2.0)  # past the session's lifetime, on purpose
            s.sendall(_frame(3, 1, {"topics": None}, 3))
            assert _closed(s)
        from confluent_kafka import Producer

        conf = confluent_conf(b, certs, "SASL_PLAINTEXT", "SCRAM-SHA-256")
        p = Producer(conf)
        topic = f"reauth-{uuid.uuid4().hex[:6]}"
        deadline = time.monotonic() + 6
        sent = 0
        while time.monotonic() < deadline:  # several session lifetimes, one connection
            p.produce(topic, b"x")
            assert p.flush(10) == 0
            sent += 1
            time.sleep(0.2)
        assert sent > 10


def test_a_user_added_with_the_command_logs_in_at_once(sasl_broker, certs):
    import sys

    subprocess.run(
        [sys.executable, "-m", "hpbroker", "users", "set", "carol", "--password", "carol-secret",
         "--mechanism", "SCRAM-SHA-512", "--data-dir", sasl_broker.data_dir],
        check=True,
        timeout=30,
    )  # fmt: skip
    from confluent_kafka.admin import AdminClient

    conf = confluent_conf(sasl_broker, certs, "SASL_PLAINTEXT", "SCRAM-SHA-512", "carol", "carol-secret")
    assert AdminClient(conf).list_topics(timeout=10).brokers
