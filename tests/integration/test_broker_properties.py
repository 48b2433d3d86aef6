"""Broker properties as Kafka's server.properties writes them, seen by a real client: hours reach
the topics' retention (DescribeConfigs through confluent-kafka), properties hpbroker does not use
are named at start-up, a bad value stops the start naming the property, and the socket buffer
properties reach the broker's sockets."""

import re
import subprocess

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, ResourceType

from tests.integration.conftest import create_topic, mode_broker
from tests.integration.rawclient import RawClient

pytestmark = pytest.mark.integration


def test_hours_reach_topics_and_unused_names_are_logged():
    with mode_broker(
        subprocess=True, config={"log.retention.hours": "2", "log.roll.hours": "1", "zookeeper.set.acl": "true"}
    ) as b:
        topic = create_topic(b.bootstrap, "props")
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        (f,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
        configs = f.result(15)
        assert configs["retention.ms"].value == "7200000"
        assert configs["retention.ms"].source == ConfigSource.STATIC_BROKER_CONFIG.value
        assert configs["segment.ms"].value == "3600000"
        assert any("properties not used by hpbroker (ignored): zookeeper.set.acl" in line for line in b.extra["log"])


def test_a_bad_value_stops_the_start_and_names_the_property():
    with pytest.raises(
        RuntimeError, match="Invalid value a week for configuration log.retention.hours: Not a number of type INT"
    ):
        with mode_broker(subprocess=True, config={"log.retention.hours": "a week"}, startup_timeout=20):
            pass


def _socket_memory(port: int, client_port: int) -> dict[str, int]:
    """The broker's side of one connection as ``ss -tm`` reports it: rb (receive buffer) and tb
    (send buffer), in bytes."""
    out = subprocess.run(
        ["ss", "-tmnH", "state", "established", f"( sport = :{port} and dport = :{client_port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    skmem = re.search(r"skmem:\(([^)]*)\)", out)
    assert skmem, out
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"([a-z]+)(\d+)", skmem.group(1))}


def test_socket_buffer_properties_reach_every_accepted_connection():
    """socket.send.buffer.bytes and socket.receive.buffer.bytes, as Kafka's acceptor applies
    them: the send buffer on each accepted socket, the receive buffer on the listening socket
    before listen() (so it is in force from the handshake). Linux reports twice what was set."""
    with mode_broker(config={"socket.send.buffer.bytes": "65536", "socket.receive.buffer.bytes": "98304"}) as b:
        clients = [RawClient(b.bootstrap) for _ in range(4)]  # spread over the processors
        try:
            for c in clients:
                assert c.request(18, 0, {})["error_code"] == 0  # accepted and served
                mem = _socket_memory(b.port, c.sock.getsockname()[1])
                assert (mem["tb"], mem["rb"]) == (131072, 196608), mem
        finally:
            for c in clients:
                c.close()
    with pytest.raises(
        RuntimeError, match="Invalid value 0 for configuration socket.send.buffer.bytes: Value must be -1"
    ):
        with mode_broker(subprocess=True, config={"socket.send.buffer.bytes": "0"}, startup_timeout=20):
            pass
