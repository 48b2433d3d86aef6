"""Replicas that come back: an out-of-sync replica elected leader when its topic allows unclean
leader election, and a follower restarted far behind that catches up under load. Three brokers
on a real ZooKeeper, confluent-kafka and exact requests; the replicas' logs are compared on disk.

One cluster serves the module (replica.lag.time.max.ms 3 s); tests that stop brokers start them
again before they end."""

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from tests.cluster.brokers import CLUSTER_OF_BROKERS, metadata, new_name, produce, wait_for_leaders
from tests.cluster.replicas import Load, assert_converged, batches, partition_state, wait_for_isr

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]

LAG_MS = 3000
BEHIND = 40_000  # records of 1 KB


@pytest.fixture(scope="module")
def cluster(zookeeper_server):
    zookeeper_server.start()
    config = {"replica.lag.time.max.ms": LAG_MS, "offsets.topic.num.partitions": 5}
    with running_cluster(3, zookeeper=zookeeper_server, config=config) as c:
        for b in c.brokers.values():
            wait_until(lambda b=b: len(metadata(b.bootstrap)["brokers"]) == 3, 20, "the three brokers")
        yield c


def _create(cluster, name, **configs):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for f in admin.create_topics([NewTopic(name, 1, 3, config=configs)]).values():
        f.result(20)
    leader = wait_for_leaders(cluster, name, 1)[0]
    wait_for_isr(cluster, name, 0, {1, 2, 3})
    return leader


def _ensure_running(cluster):
    for b in cluster.brokers.values():
        if not b.running:
            b.start()
    for b in cluster.brokers.values():
        wait_until(lambda b=b: len(metadata(b.bootstrap)["brokers"]) == 3, 30, "the three brokers")


def test_unclean_election_makes_the_out_of_sync_replica_leader_and_the_others_truncate(cluster):
    name = new_name("unclean")
    leader = _create(cluster, name, **{"unclean.leader.election.enable": "true", "min.insync.replicas": "1"})
    lagging, other = (i for i in sorted(cluster.brokers) if i != leader)
    old = cluster.brokers[leader]
    assert produce(old.bootstrap, name, 0, [b"everyone"]) == (0, 0)
    wait_until(lambda: len(batches(cluster.brokers[lagging].data_dir, name, 0)) == 1, 20, "the first batch copied")
    try:
        cluster.brokers[lagging].kill()
        wait_for_isr(cluster, name, 0, {leader, other}, timeout=30)
        assert produce(old.bootstrap, name, 0, [b"only", b"in", b"sync"]) == (0, 1)
        # the ISR goes: first the other follower, then the leader itself
        cluster.brokers[other].kill()
        wait_for_isr(cluster, name, 0, {leader}, timeout=30)
        old.kill()
        with cluster.zk_client() as zk:  # the last ISR member's registration expires: nothing may lead
            wait_until(lambda: not zk.get_sorted_broker_list(), 30, "every registration gone")
        cluster.brokers[lagging].start()
        # no ISR member is alive: the topic allows the out-of-sync replica to lead
        wait_until(lambda: partition_state(cluster, name, 0).leader == lagging, 30, "the unclean leader")
        new = cluster.brokers[lagging].bootstrap
        wait_until(lambda: produce(new, name, 0, [b"after"])[0] == 0, 20, "the unclean leader to take a write")
    finally:
        _ensure_running(cluster)
    # the old replicas follow it: the three records only they had are truncated away
    assert_converged(cluster, name, 1)
    for i in cluster.brokers:
        logged = batches(cluster.brokers[i].data_dir, name, 0)
        assert [(base, last) for base, last, _, _ in logged] == [(0, 0), (1, 1)], (i, logged)


def test_a_follower_restarted_far_behind_catches_up_under_load_and_rejoins_the_isr(cluster):
    name = new_name("behind")
    leader = _create(cluster, name, **{"min.insync.replicas": "2"})
    follower = cluster.brokers[next(i for i in sorted(cluster.brokers) if i != leader)]
    try:
        follower.stop()
        wait_for_isr(cluster, name, 0, set(cluster.brokers) - {follower.broker_id}, timeout=30)
        p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "1", "linger.ms": 5})
        value = b"x" * 1000
        for _ in range(BEHIND):  # 40 MB the follower does not have
            while True:
                try:
                    p.produce(name, value, partition=0)
                    break
                except BufferError:
                    p.poll(0.01)
        assert p.flush(60) == 0
        with Load(cluster.bootstrap, name, 1, start_offset=BEHIND) as load:
            load.wait_acked(50)
            follower.start()
            wait_for_isr(cluster, name, 0, set(cluster.brokers), timeout=90)
            load.wait_acked(50)  # acks=all goes on with the follower back in the ISR
        load.check()
        assert not load.failed, load.failed[:3]
    finally:
        _ensure_running(cluster)
    assert_converged(cluster, name, 1)
    assert partition_state(cluster, name, 0).leader == leader
