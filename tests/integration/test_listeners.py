"""Several listeners: each serves clients, and Metadata answers a client with the endpoints of
the listener it came in on (advertised.listeners), as Kafka does."""

import pytest

from tests.integration.conftest import mode_broker

pytestmark = pytest.mark.integration


def _brokers_seen(bootstrap):
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return sorted((b.host, b.port) for b in md.brokers.values())


def test_metadata_answers_with_the_endpoints_of_the_listener_a_client_came_in_on():
    config = {
        "listeners": "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
        "advertised.listeners": "PLAINTEXT://127.0.0.1:0,INTERNAL://localhost:0",
    }
    with mode_broker(config=config) as b:
        assert set(b.listeners) == {"PLAINTEXT", "INTERNAL"}
        plain_port = int(b.listeners["PLAINTEXT"].rsplit(":", 1)[1])
        internal_port = int(b.listeners["INTERNAL"].rsplit(":", 1)[1])
        assert plain_port != internal_port
        assert _brokers_seen(b.listeners["PLAINTEXT"]) == [("127.0.0.1", plain_port)]
        assert _brokers_seen(f"127.0.0.1:{internal_port}") == [("localhost", internal_port)]
        # and a client of the second listener produces and consumes through it
        from kafka import KafkaConsumer, KafkaProducer

        bootstrap = f"localhost:{internal_port}"
        producer = KafkaProducer(bootstrap_servers=bootstrap)
        producer.send("listeners-topic", b"through INTERNAL").get(timeout=15)
        producer.close()
        consumer = KafkaConsumer(
            "listeners-topic", bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=10000
        )
        try:
            assert [m.value for m in consumer][:1] == [b"through INTERNAL"]
        finally:
            consumer.close()
