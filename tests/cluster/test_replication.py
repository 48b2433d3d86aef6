"""Replication in a cluster of three brokers on a real ZooKeeper, with confluent-kafka: topics of
replication factor 3 and min.insync.replicas 2, an idempotent acks=all producer of unique values
and a consumer reading along; followers copy the leader, the ISR shrinks and grows through
ZooKeeper, acks=all waits for the ISR, leaders fail over without losing an acknowledged record
(Kafka's replication test matrix), and the replicas' logs end identical.

One cluster serves the module (replica.lag.time.max.ms 3 s); tests that stop brokers start them
again before they end."""

import subprocess
import sys

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from hpbroker.protocol.errors import ErrorCode
from hpbroker.records.builder import build_batch
from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from tests.cluster.brokers import (
    CLUSTER_OF_BROKERS,
    PRODUCE,
    find_coordinator,
    metadata,
    new_name,
    request,
    wait_for_leaders,
)
from tests.cluster.replicas import Load, assert_converged, batches, partition_state, wait_for_isr

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]

LAG_MS = 3000


@pytest.fixture(scope="module")
def cluster(zookeeper_server):
    zookeeper_server.start()
    config = {"replica.lag.time.max.ms": LAG_MS, "offsets.topic.num.partitions": 5}
    with running_cluster(3, zookeeper=zookeeper_server, config=config) as c:
        for b in c.brokers.values():
            wait_until(lambda b=b: len(metadata(b.bootstrap)["brokers"]) == 3, 20, "the three brokers")
        yield c


def _create(cluster, name, partitions=3, min_isr=2):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for f in admin.create_topics(
        [NewTopic(name, partitions, 3, config={"min.insync.replicas": str(min_isr)})]
    ).values():
        f.result(20)
    leaders = wait_for_leaders(cluster, name, partitions)
    for p in range(partitions):
        wait_for_isr(cluster, name, p, {1, 2, 3})
    return leaders


def _ensure_running(cluster):
    for b in cluster.brokers.values():
        if not b.running:
            b.start()
    for b in cluster.brokers.values():
        wait_until(lambda b=b: len(metadata(b.bootstrap)["brokers"]) == 3, 30, "the three brokers")


def _produce_one(bootstrap, topic, value, timeout_ms=3000):
    """The error code of one acks=all send (0: acknowledged)."""
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "retries": 0,
            "message.timeout.ms": timeout_ms,
            "request.timeout.ms": timeout_ms,
        }
    )
    result = []
    p.produce(topic, value=value, partition=0, on_delivery=lambda err, msg: result.append(err))
    p.flush(timeout_ms / 1000 + 10)
    return 0 if result[0] is None else result[0].code()


def produce_acks_all(bootstrap, topic, partition, values, timeout_ms):
    """The error code of one acks=all Produce sent to this broker alone."""
    body = {
        "transactional_id": None,
        "acks": -1,
        "timeout_ms": timeout_ms,
        "topic_data": [
            {
                "name": topic,
                "partition_data": [{"index": partition, "records": build_batch([(None, v) for v in values])}],
            }
        ],
    }
    return request(bootstrap, PRODUCE, 8, body)["responses"][0]["partition_responses"][0]["error_code"]


def test_followers_copy_the_leader_and_acks_all_waits_for_them(cluster):
    name = new_name("copy")
    _create(cluster, name)
    with Load(cluster.bootstrap, name, 3) as load:
        load.wait_acked(600)
    load.check()
    assert not load.failed, load.failed[:3]
    assert_converged(cluster, name, 3)
    # the HW every replica reports is the leader's LEO once the followers caught up
    state = partition_state(cluster, name, 0)
    assert state.leader_epoch == 0 and sorted(state.isr) == [1, 2, 3]


def test_a_paused_follower_leaves_the_isr_and_rejoins(cluster):
    name = new_name("isr")
    leaders = _create(cluster, name, partitions=1, min_isr=3)
    follower = next(i for i in cluster.brokers if i != leaders[0])
    leader = cluster.brokers[leaders[0]].bootstrap
    assert _produce_one(leader, name, b"all three") == 0
    cluster.brokers[follower].pause()
    try:
        wait_for_isr(cluster, name, 0, {1, 2, 3} - {follower}, timeout=LAG_MS / 1000 + 10)
        # the leader wrote the smaller ISR; min.insync.replicas 3 now refuses acks=all before the append
        assert _produce_one(leader, name, b"refused") == ErrorCode.NOT_ENOUGH_REPLICAS
    finally:
        cluster.brokers[follower].resume()
    wait_for_isr(cluster, name, 0, {1, 2, 3}, timeout=30)
    assert _produce_one(leader, name, b"all three again") == 0
    assert_converged(cluster, name, 1)
    with cluster.zk_client() as zk:  # the controller was told: every broker's metadata shows it
        assert zk.get_controller_id() in cluster.brokers
    for b in cluster.brokers.values():
        wait_until(
            lambda b=b: sorted(metadata(b.bootstrap, [name])["topics"][0]["partitions"][0]["isr_nodes"]) == [1, 2, 3],
            20,
            "every broker's metadata to show the full ISR",
        )


def test_with_two_brokers_down_acks_all_waits_for_a_second_replica(cluster):
    name = new_name("two-down")
    leaders = _create(cluster, name, partitions=1, min_isr=2)
    others = [i for i in cluster.brokers if i != leaders[0]]
    try:
        for i in others:
            cluster.brokers[i].kill()
        wait_for_isr(cluster, name, 0, {leaders[0]}, timeout=20)
        leader = cluster.brokers[leaders[0]].bootstrap
        assert _produce_one(leader, name, b"alone") == ErrorCode.NOT_ENOUGH_REPLICAS

        # where users look: hpbroker topics describe shows the ISR and the offline replicas
        def offline_shown():
            out = _describe(leader, name)
            return out if "Offline:" in out else None

        described = wait_until(offline_shown, 20, "offline replicas shown")
        row = described.splitlines()[1]
        assert f"Leader: {leaders[0]}" in row and f"Isr: {leaders[0]}" in row
        assert sorted(map(int, row.split("Offline: ")[1].split()[0].split(","))) == sorted(others)
        cluster.brokers[others[0]].start()
        wait_for_isr(cluster, name, 0, {leaders[0], others[0]}, timeout=30)
        assert _produce_one(leader, name, b"two again") == 0
    finally:
        _ensure_running(cluster)
    assert_converged(cluster, name, 1)


def _describe(bootstrap, name):
    out = subprocess.run(
        [sys.executable, "-m", "hpbroker", "topics", "describe", name, "--bootstrap", bootstrap],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _target(cluster, name, broker_type):
    if broker_type == "leader":
        return partition_state(cluster, name, 0).leader
    with cluster.zk_client() as zk:
        return zk.get_controller_id()


@pytest.mark.parametrize("broker_type", ["leader", "controller"])
@pytest.mark.parametrize("failure_mode", ["clean_shutdown", "hard_shutdown", "clean_bounce", "hard_bounce"])
def test_replication_matrix(cluster, failure_mode, broker_type):
    """Kafka's replication_test.py: under load, fail the leader of partition 0 or the controller;
    every acknowledged value is read once, in send order, and the replicas converge."""
    name = new_name(f"{failure_mode}-{broker_type}".replace("_", "-"))
    _create(cluster, name)
    try:
        with Load(cluster.bootstrap, name, 3) as load:
            load.wait_acked(100)
            bounces = 2 if failure_mode.endswith("bounce") else 1
            for _ in range(bounces):
                target = cluster.brokers[_target(cluster, name, broker_type)]
                if failure_mode.startswith("clean"):
                    target.stop()
                else:
                    target.kill()
                load.wait_acked(100)  # the others carry on
                if failure_mode.endswith("bounce"):
                    target.start()
                    wait_for_leaders(cluster, name, 3, timeout=30)
                    load.wait_acked(50)
            _ensure_running(cluster)
            load.wait_acked(50)
    finally:
        _ensure_running(cluster)
    load.check()
    assert_converged(cluster, name, 3)


def test_a_paused_leader_cut_off_from_zookeeper_acknowledges_nothing_and_rejoins_as_follower(cluster):
    name = new_name("zombie")
    leaders = _create(cluster, name, partitions=1, min_isr=2)
    old = cluster.brokers[leaders[0]]
    assert _produce_one(old.bootstrap, name, b"before") == 0
    epoch = partition_state(cluster, name, 0).leader_epoch
    old.pause()  # past its session: the controller elects another leader from the ISR
    try:
        wait_until(
            lambda: partition_state(cluster, name, 0).leader not in (old.broker_id, -1),
            cluster.session_timeout_ms / 1000 + 15,
            "a new leader",
        )
    finally:
        old.resume()
    # the old leader still believes it leads; its followers are gone and its ISR change cannot be
    # written (the state znode moved on), so an acks=all write to it is never acknowledged
    code = produce_acks_all(old.bootstrap, name, 0, [b"to the zombie"], timeout_ms=2000)
    assert code in (ErrorCode.REQUEST_TIMED_OUT, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_ENOUGH_REPLICAS)
    assert partition_state(cluster, name, 0).leader_epoch > epoch
    # it registers again, becomes a follower, truncates what it alone had, and rejoins
    assert_converged(cluster, name, 1)
    for b in cluster.brokers.values():  # one batch on every replica: "before", not the zombie's
        assert len(batches(b.data_dir, name, 0)) == 1


def test_committed_offsets_survive_the_loss_of_their_coordinator(cluster):
    name = new_name("offsets")
    _create(cluster, name, partitions=1)
    group = new_name("group")
    c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(name, 0, 42)], asynchronous=False)
    finally:
        c.close()
    coordinator = find_coordinator(cluster.brokers[1].bootstrap, group)["node_id"]
    cluster.brokers[coordinator].kill()
    try:

        def committed():
            reader = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group})
            try:
                return reader.committed([TopicPartition(name, 0)], timeout=5)[0].offset
            except KafkaException:
                return None
            finally:
                reader.close()

        assert wait_until(committed, 40, "the new coordinator to answer") == 42
    finally:
        _ensure_running(cluster)
