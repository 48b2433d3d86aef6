"""Replication between brokers of the multi-process topology (1 processor, 2 handlers each), the
key scenarios of test_replication.py: each handler fetches the partitions it owns from their
leaders and, as leader, serves its followers' Fetch requests (routed to it by the processor),
moves the high watermark the processors serve consumers up to, and changes the ISR through
ZooKeeper: handler 0 itself, handler 1 through handler 0 (server/multiproc/isr_channel.py); a
killed leader's partitions fail over without losing an acknowledged record."""

import pytest

from hpbroker.protocol.errors import ErrorCode
from hpbroker.server.multiproc.routing import owner
from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from tests.cluster.brokers import CLUSTER_OF_BROKERS, metadata, new_name, request, wait_for_leaders
from tests.cluster.replicas import Load, assert_converged, partition_state, wait_for_isr
from tests.cluster.test_replication import _create, _ensure_running, _produce_one, produce_acks_all

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]

ARGS = ["--processors", "1", "--handlers", "2"]
LAG_MS = 3000
FETCH = 1


@pytest.fixture(scope="module")
def cluster(zookeeper_server):
    zookeeper_server.start()
    config = {"replica.lag.time.max.ms": LAG_MS, "offsets.topic.num.partitions": 5}
    with running_cluster(3, zookeeper=zookeeper_server, config=config, args=ARGS) as c:
        for b in c.brokers.values():
            wait_until(lambda b=b: len(metadata(b.bootstrap)["brokers"]) == 3, 30, "the three brokers")
        yield c


def _name_owned_by(handler: int, prefix: str) -> str:
    """A new topic name whose partition 0 is owned by ``handler`` (on every broker)."""
    while True:
        name = new_name(prefix)
        if owner(name, 0, 2) == handler:
            return name


def test_followers_copy_the_leader_and_acks_all_waits_for_them(cluster):
    name = new_name("copy")
    _create(cluster, name)  # three partitions: both handlers of every broker lead and follow
    with Load(cluster.bootstrap, name, 3) as load:
        load.wait_acked(300)
    load.check()
    assert not load.failed, load.failed[:3]
    assert_converged(cluster, name, 3)
    state = partition_state(cluster, name, 0)
    assert state.leader_epoch == 0 and sorted(state.isr) == [1, 2, 3]


@pytest.mark.parametrize("handler", [0, 1])
def test_a_paused_follower_leaves_the_isr_and_rejoins(cluster, handler):
    name = _name_owned_by(handler, "isr")
    leaders = _create(cluster, name, partitions=1, min_isr=3)
    follower = next(i for i in cluster.brokers if i != leaders[0])
    leader = cluster.brokers[leaders[0]].bootstrap
    assert _produce_one(leader, name, b"all three") == 0
    cluster.brokers[follower].pause()
    try:
        # the leading handler decided the smaller ISR and (handler 1 through handler 0) wrote it
        wait_for_isr(cluster, name, 0, {1, 2, 3} - {follower}, timeout=LAG_MS / 1000 + 10)
        assert _produce_one(leader, name, b"refused") == ErrorCode.NOT_ENOUGH_REPLICAS
    finally:
        cluster.brokers[follower].resume()
    wait_for_isr(cluster, name, 0, {1, 2, 3}, timeout=30)
    assert _produce_one(leader, name, b"all three again") == 0
    assert_converged(cluster, name, 1)


def test_a_killed_leader_fails_over_and_rejoins_as_follower(cluster):
    """Kafka's replication matrix, hard bounce of a leader: every acknowledged value is read once,
    in send order, and the replicas converge (the bounced broker truncates and follows)."""
    name = new_name("hard-bounce")
    _create(cluster, name)
    try:
        with Load(cluster.bootstrap, name, 3) as load:
            load.wait_acked(100)
            target = cluster.brokers[partition_state(cluster, name, 0).leader]
            target.kill()
            load.wait_acked(100)  # the others carry on
            target.start()
            wait_for_leaders(cluster, name, 3, timeout=30)
            load.wait_acked(50)
    finally:
        _ensure_running(cluster)
    load.check()
    assert_converged(cluster, name, 3)


@pytest.mark.parametrize("handler", [0, 1])
def test_an_acknowledged_record_is_readable_from_the_processor_at_once(cluster, handler):
    """acks=all answers once the followers' fetches moved the HW: the owner publishes that HW in
    the partition table at once, so the processor serves the record to a consumer right away
    (not at the next publication of every row, a second later)."""
    name = _name_owned_by(handler, "hw")
    leaders = _create(cluster, name, partitions=1, min_isr=3)
    leader = cluster.brokers[leaders[0]].bootstrap
    for i in range(3):
        assert produce_acks_all(leader, name, 0, [b"v%d" % i], timeout_ms=5000) == 0
        answer = request(leader, FETCH, 11, _fetch_body(name, i))["responses"][0]["partitions"][0]
        assert answer["error_code"] == 0 and answer["high_watermark"] == i + 1
        assert len(answer["records"]) > 0


def _fetch_body(topic, offset):
    return {
        "replica_id": -1,
        "max_wait_ms": 0,
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
                        "fetch_offset": offset,
                        "log_start_offset": -1,
                        "partition_max_bytes": 1 << 20,
                    }
                ],
            }
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }
