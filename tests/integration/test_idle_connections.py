"""connections.max.idle.ms: a connection with nothing in flight and no traffic for that long is
closed, as Kafka's Selector expires idle connections; busy ones, and one whose long-poll Fetch is
parked, stay; a real client reconnects and carries on. Both broker modes."""

import time

import psutil
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from hpbroker.testing import wait_until
from tests.integration.conftest import create_topic, mode_broker
from tests.integration.rawclient import RawClient

pytestmark = pytest.mark.integration

IDLE_MS = 1500
API_VERSIONS, METADATA, FETCH = 18, 3, 1


@pytest.fixture(scope="module")
def idle_broker():
    with mode_broker(config={"connections.max.idle.ms": str(IDLE_MS)}) as b:
        yield b


def _connections_to(port: int) -> set[int]:
    """Local ports of this process's established TCP connections to ``port``."""
    return {
        c.laddr.port
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    }


def _metadata(c):
    return c.request(METADATA, 1, {"topics": []})


def test_idle_connection_closed_busy_one_kept(idle_broker):
    with RawClient(idle_broker.bootstrap) as idle, RawClient(idle_broker.bootstrap) as busy:
        idle.request(API_VERSIONS, 0, {})
        _metadata(busy)
        start = time.monotonic()
        closed_after = None
        while time.monotonic() - start < IDLE_MS / 1000 + 4:
            _metadata(busy)  # a request every 0.3 s: never idle
            if closed_after is None and idle.is_closed_by_peer(timeout=0.3):
                closed_after = time.monotonic() - start
        assert closed_after is not None, "the idle connection was never closed"
        # not before the limit; the sweep runs about once a second
        assert IDLE_MS / 1000 - 0.2 <= closed_after <= IDLE_MS / 1000 + 3
        _metadata(busy)


def test_parked_fetch_is_not_idle(idle_broker):
    topic = create_topic(idle_broker.bootstrap, f"idle-fetch-{time.monotonic_ns()}")
    with RawClient(idle_broker.bootstrap, timeout=15) as c:
        body = {
            "replica_id": -1,
            "max_wait_ms": 4000,
            "min_bytes": 1,
            "max_bytes": 1 << 20,
            "isolation_level": 0,
            "session_id": 0,
            "session_epoch": -1,
            "topics": [
                {
                    "topic": topic,
                    "partitions": [
                        {
                            "partition": 0,
                            "current_leader_epoch": -1,
                            "fetch_offset": 0,
                            "log_start_offset": -1,
                            "partition_max_bytes": 1 << 20,
                        }
                    ],
                }
            ],
            "forgotten_topics_data": [],
            "rack_id": "",
        }
        start = time.monotonic()
        r = c.request(FETCH, 11, body)  # parked for longer than the idle limit: answered, not closed
        assert time.monotonic() - start >= 3.5
        assert r["responses"][0]["partitions"][0]["error_code"] == 0
        assert c.is_closed_by_peer(timeout=IDLE_MS / 1000 + 4)  # and idle after it


def test_clients_reconnect_after_an_idle_close(idle_broker):
    topic = create_topic(idle_broker.bootstrap, f"idle-clients-{time.monotonic_ns()}")
    p = Producer({"bootstrap.servers": idle_broker.bootstrap, "linger.ms": 0})
    c = Consumer(
        {
            "bootstrap.servers": idle_broker.bootstrap,
            "group.id": f"g-{time.monotonic_ns()}",
            "enable.auto.commit": False,
        }
    )
    try:
        p.produce(topic, b"before")
        assert p.flush(15) == 0
        ours = _connections_to(idle_broker.port)
        assert ours
        wait_until(
            lambda: not _connections_to(idle_broker.port) & ours,
            IDLE_MS / 1000 + 10,
            "the broker to close the idle producer's connections",
        )
        p.produce(topic, b"after")
        assert p.flush(15) == 0
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 2 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
        assert got == [b"before", b"after"]
    finally:
        c.close()
