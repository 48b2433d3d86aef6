"""max.connections, max.connections.per.ip and max.connections.per.ip.overrides against a real
broker in the topology under test. In the multi-process topology the kernel spreads the
connections over the processors, and every limit must count them all."""

import socket
import time

import pytest
from confluent_kafka import Producer

from hpbroker.admin.client import ToolError
from hpbroker.testing import wait_until
from tests.integration.conftest import create_topic, mode_broker
from tests.integration.rawclient import RawClient


def _served(c: RawClient) -> bool:
    """True if the broker answers ApiVersions on ``c``, False if it closed the connection."""
    try:
        return c.request(18, 0, {})["error_code"] == 0
    except (ToolError, ConnectionError):
        return False


def _connect(bootstrap: str, n: int) -> tuple[list[RawClient], list[bool]]:
    """``n`` connections, one after the other, each answered or closed before the next opens
    (so no two processors accept at the same instant)."""
    clients, served = [], []
    for _ in range(n):
        clients.append(RawClient(bootstrap))
        served.append(_served(clients[-1]))
    return clients, served


def _close(clients):
    for c in clients:
        c.close()


_ESTABLISHED, _CLOSE_WAIT = "01", "08"


def _open_at_broker(port: int, states=(_ESTABLISHED, _CLOSE_WAIT)) -> set[int]:
    """Client ports of the connections the broker on ``port`` still holds: its side of them is
    ESTABLISHED, or CLOSE_WAIT (closed by the client, not yet by the broker), in /proc/net/tcp.
    The broker closes its socket and frees the connection's slot in one step."""
    held = set()
    with open("/proc/net/tcp") as f:
        for line in list(f)[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] in states:
                held.add(int(fields[2].split(":")[1], 16))
    return held


def _broker_holds_only(b, clients) -> None:
    """Wait until the broker has seen every other connection close: it holds ``clients`` alone."""
    ports = {c.sock.getsockname()[1] for c in clients if c.sock.fileno() >= 0}
    wait_until(lambda: _open_at_broker(b.port) <= ports, 10, f"the broker to hold only the connections {sorted(ports)}")


def test_an_address_at_its_limit_gets_its_connection_closed():
    """max.connections.per.ip 2: of six connections from 127.0.0.1 two are served, wherever
    the kernel placed them; once one closes, a new one is served again."""
    with mode_broker(config={"max.connections.per.ip": "2"}) as b:
        clients, served = _connect(b.bootstrap, 6)
        try:
            assert served == [True, True, False, False, False, False]
            clients[0].close()
            _broker_holds_only(b, clients)
            more, served = _connect(b.bootstrap, 2)
            clients += more
            assert served == [True, False]
        finally:
            _close(clients)


def test_overrides_name_their_own_limit():
    """max.connections.per.ip 0 refuses every address but those in the overrides, each with its
    own limit; a host name there is resolved at start-up."""
    with mode_broker(
        config={"max.connections.per.ip": "0", "max.connections.per.ip.overrides": "localhost:3, 10.255.255.1:1"}
    ) as b:
        clients, served = _connect(b.bootstrap, 5)
        try:
            assert served == [True, True, True, False, False]
        finally:
            _close(clients)


def test_at_max_connections_a_new_connection_waits_for_a_free_slot():
    """max.connections 2: a third connection is not served while two are open (it waits in
    the listen backlog, as at Kafka's acceptor), and is served once one of them closes."""
    with mode_broker(config={"max.connections": "2"}) as b:
        clients, served = _connect(b.bootstrap, 2)
        waiting = RawClient(b.bootstrap)
        clients.append(waiting)
        try:
            assert served == [True, True]
            cid = waiting.send(18, 0, {})
            waiting.sock.settimeout(1.0)
            with pytest.raises(socket.timeout):
                waiting.sock.recv(1)
            t0 = time.monotonic()
            clients[0].close()
            waiting.sock.settimeout(10)
            frame = waiting.recv_frame()
            assert int.from_bytes(frame[:4], "big") == cid
            assert time.monotonic() - t0 < 2.0
        finally:
            _close(clients)


def test_a_real_client_refused_at_the_limit_connects_once_there_is_room(topic_name):
    """A confluent-kafka producer whose address is at its limit gets its connections closed and
    delivers nothing; once the connections that held the limit close, it reconnects (its own
    backoff) and delivers."""
    with mode_broker(config={"max.connections.per.ip": "2"}) as b:
        create_topic(b.bootstrap, topic_name, 1)
        _broker_holds_only(b, [])  # the admin client's connections are closed
        holders, served = _connect(b.bootstrap, 2)
        assert served == [True, True]
        delivered = []
        p = Producer(
            {
                "bootstrap.servers": b.bootstrap,
                "message.timeout.ms": 30000,
                "reconnect.backoff.ms": 50,
                "reconnect.backoff.max.ms": 200,
                "log_level": 0,
            }
        )
        try:
            p.produce(topic_name, b"v", on_delivery=lambda err, msg: delivered.append(err))
            p.poll(1.5)
            assert delivered == []
            _close(holders)
            assert p.flush(20) == 0
            assert delivered == [None]
        finally:
            _close(holders)
            p.flush(0)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"max.connections.per.ip": "0"}, "max.connections.per.ip can be set to zero only if"),
        ({"max.connections.per.ip.overrides": "localhost"}, "each entry is host:count"),
        ({"max.connections": "-1"}, "Invalid value -1 for configuration max.connections: Value must be at least 0"),
    ],
)
def test_limits_kafka_refuses_stop_the_start(config, message):
    with pytest.raises(RuntimeError, match=message):
        with mode_broker(subprocess=True, config=config, startup_timeout=20):
            pass


def _alter_broker(bootstrap, *ops):
    """IncrementalAlterConfigs on broker 0 from confluent-kafka's admin client, whose
    connections are closed, and seen closed by the broker, before this returns. The broker
    applies the new limit before it answers."""
    import gc

    from confluent_kafka.admin import AdminClient, ConfigEntry, ConfigResource

    port = int(bootstrap.rsplit(":", 1)[1])
    ours = _open_at_broker(port, (_ESTABLISHED,))
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(
        ConfigResource.Type.BROKER,
        "0",
        incremental_configs=[ConfigEntry(n, v, incremental_operation=op) for n, op, v in ops],
    )
    try:
        return admin.incremental_alter_configs([res])[res].result(timeout=15)
    finally:
        del admin
        gc.collect()
        wait_until(lambda: _open_at_broker(port) <= ours, 10, "the broker to see the admin client's connections close")


def test_limits_set_at_run_time_apply_to_the_next_connections():
    """max.connections.per.ip set by IncrementalAlterConfigs, as Kafka takes it at run time: the
    connections already open stay, and count; the next ones are held to the new limit. A value
    Kafka refuses (0 without overrides) is INVALID_REQUEST (Kafka's answer) and changes nothing."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AlterConfigOpType

    with mode_broker() as b:
        held, served = _connect(b.bootstrap, 3)
        try:
            assert served == [True, True, True]
            _alter_broker(b.bootstrap, ("max.connections.per.ip", AlterConfigOpType.SET, "2"))
            assert [_served(c) for c in held] == [True, True, True]  # the open ones stay
            more, served = _connect(b.bootstrap, 1)
            held += more
            assert served == [False]
            for c in held[:2]:
                c.close()
            _broker_holds_only(b, held)
            more, served = _connect(b.bootstrap, 2)
            held += more
            assert served == [True, False]
            for c in held:
                c.close()
            _broker_holds_only(b, held)
            with pytest.raises(KafkaException, match="INVALID_REQUEST|can be set to zero only if"):
                _alter_broker(b.bootstrap, ("max.connections.per.ip", AlterConfigOpType.SET, "0"))
            clients, served = _connect(b.bootstrap, 3)
            held += clients
            assert served == [True, True, False]  # still 2
            _close(clients)  # room for the admin client
            _broker_holds_only(b, held)
            _alter_broker(b.bootstrap, ("max.connections.per.ip", AlterConfigOpType.DELETE, None))
            more, served = _connect(b.bootstrap, 2)
            held += more
            assert served == [True, True]  # back to Kafka's default: no limit
        finally:
            _close(held)
