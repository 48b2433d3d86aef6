"""The metrics a Kafka operator watches in a cluster, read from each broker's `metrics.port` after
real faults: a paused follower shrinks the leader's ISR (IsrShrinksPerSec, under-replicated and
under-min-ISR partitions) and grows it again when it returns (IsrExpandsPerSec); a killed leader
makes the controller elect another (LeaderElectionRateAndTimeMs), and a partition whose every
replica is down counts as offline on the controller (OfflinePartitionsCount)."""

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from hpbroker.testing.zookeeper import free_port
from tests.cluster.brokers import CLUSTER_OF_BROKERS, new_name, wait_for_leaders
from tests.cluster.replicas import wait_for_isr
from tests.integration.test_metrics import scrape

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]

LAG_MS = 1500
# a paused follower must leave the ISR by the leader's shrink, before its ZooKeeper session ends
# (the controller would then remove it, which the leader does not count as a shrink, as in Kafka)
SESSION_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def cluster(zookeeper_server):
    zookeeper_server.start()
    ports = {i: free_port() for i in (1, 2, 3)}
    config = {"replica.lag.time.max.ms": LAG_MS, "offsets.topic.num.partitions": 3}
    with running_cluster(
        3,
        zookeeper=zookeeper_server,
        config=config,
        broker_config={i: {"metrics.port": p} for i, p in ports.items()},
        session_timeout_ms=SESSION_TIMEOUT_MS,
    ) as c:
        c.metrics_ports = ports
        yield c


def _value(cluster, broker_id, name):
    return scrape(cluster.metrics_ports[broker_id]).get((name, ()), 0)


def _create(cluster, name, partitions, factor, min_isr):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    topic = NewTopic(name, partitions, factor, config={"min.insync.replicas": str(min_isr)})
    for f in admin.create_topics([topic]).values():
        f.result(20)
    return wait_for_leaders(cluster, name, partitions)


def test_isr_shrinks_and_expands_and_under_replicated_partitions(cluster):
    name = new_name("isr-metrics")
    leader = _create(cluster, name, 1, 3, 3)[0]  # (__consumer_offsets' ISRs may move with it: counts are lower bounds)
    wait_for_isr(cluster, name, 0, {1, 2, 3})
    with cluster.zk_client() as zk:
        controller = zk.get_controller_id()
    # a follower that is not the controller: pausing the controller would move the role
    follower = next(i for i in cluster.brokers if i not in (leader, controller))
    shrinks = _value(cluster, leader, "kafka_server_replicamanager_isrshrinks_total")
    expands = _value(cluster, leader, "kafka_server_replicamanager_isrexpands_total")
    cluster.brokers[follower].pause()
    try:
        # a follower is out of sync once it lags behind the leader's log end (as in Kafka: an idle
        # follower with nothing to copy stays in the ISR)
        p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": 1})
        p.produce(name, b"past the paused follower", partition=0)
        assert p.flush(20) == 0
        wait_for_isr(cluster, name, 0, {1, 2, 3} - {follower}, timeout=LAG_MS / 1000 + 10)
        # the leader counts once ZooKeeper took the new ISR: a moment after it shows there
        wait_until(
            lambda: _value(cluster, leader, "kafka_server_replicamanager_isrshrinks_total") >= shrinks + 1,
            10,
            "the ISR shrink counted",
        )
        wait_until(
            lambda: (
                _value(cluster, leader, "kafka_server_replicamanager_underreplicatedpartitions") >= 1
                and _value(cluster, leader, "kafka_server_replicamanager_underminisrpartitioncount") >= 1
            ),
            10,
            "the leader's gauges to show the partition under-replicated and under its min.insync.replicas",
        )
    finally:
        cluster.brokers[follower].resume()
    wait_for_isr(cluster, name, 0, {1, 2, 3}, timeout=30)
    wait_until(
        lambda: _value(cluster, leader, "kafka_server_replicamanager_isrexpands_total") >= expands + 1,
        10,
        "the ISR expand counted",
    )
    wait_until(
        lambda: _value(cluster, leader, "kafka_server_replicamanager_underreplicatedpartitions") == 0,
        10,
        "no partition under-replicated once the ISR is full",
    )


def test_leader_elections_and_offline_partitions_on_the_controller(cluster):
    name = new_name("election-metrics")
    with cluster.zk_client() as zk:
        controller = zk.get_controller_id()
    others = [i for i in cluster.brokers if i != controller]
    # single-replica partitions spread over the brokers: the victim's go offline with it
    leaders = _create(cluster, name, 3, 1, 1)
    victim = next(b for b in leaders.values() if b != controller)
    elections = "kafka_controller_controllerstats_leaderelectionrateandtimems_count"
    before = _value(cluster, controller, elections)
    cluster.brokers[victim].kill()
    try:
        wait_until(
            lambda: _value(cluster, controller, "kafka_controller_kafkacontroller_offlinepartitionscount") >= 1,
            30,
            "the controller to count the partition offline",
        )
        assert _value(cluster, controller, elections) > before  # the dead broker's partitions: an election each round
        alive = [i for i in others if i != victim]
        assert all(_value(cluster, i, "kafka_controller_kafkacontroller_activecontrollercount") == 0 for i in alive)
        assert _value(cluster, controller, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    finally:
        cluster.brokers[victim].start()
    wait_until(
        lambda: _value(cluster, controller, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0,
        30,
        "the partition online again",
    )
