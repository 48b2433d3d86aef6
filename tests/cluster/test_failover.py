"""Brokers dying and coming back, in a cluster of three on a real ZooKeeper (replication factor
1): a killed controller is replaced within the session timeout and a bit, its partitions are
offline (LEADER_NOT_AVAILABLE, leader -1) until it returns, then led again in a new leader epoch
with their records; a rolling restart (SIGTERM, controlled shutdown, start) under an idempotent
producer's load loses no acknowledged record, and the producer sees no error it does not retry; a
topic deleted while a broker is down is gone for clients at once and from that broker's disk when it
returns.

One cluster serves the module; the tests leave every broker running."""

import os
import threading
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from hpbroker.cluster import zk_data as zd
from hpbroker.protocol.errors import ErrorCode
from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from tests.cluster.brokers import CLUSTER_OF_BROKERS, metadata, new_name, partition_errors, wait_for_leaders
from tests.integration.conftest import confluent_consume_all

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]


@pytest.fixture(scope="module")
def cluster(zookeeper_server):
    zookeeper_server.start()
    with running_cluster(3, zookeeper=zookeeper_server) as c:
        for b in c.brokers.values():
            wait_until(lambda b=b: len(metadata(b.bootstrap)["brokers"]) == 3, 20, "the three brokers")
        yield c


def _create(cluster, name, partitions):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for f in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        f.result(20)
    return wait_for_leaders(cluster, name, partitions)


def _epochs(cluster, name, partitions):
    with cluster.zk_client() as zk:
        states = zk.get_partition_states([zd.TopicPartition(name, p) for p in range(partitions)])
    return {tp.partition: lice.leader_and_isr.leader_epoch for tp, lice in states.items()}


def test_a_killed_controller_is_replaced_and_its_partitions_wait_for_it(cluster):
    name = new_name("failover")
    before = _create(cluster, name, 6)
    p = Producer({"bootstrap.servers": cluster.bootstrap})
    for i in range(60):
        p.produce(name, value=f"v{i}".encode(), partition=i % 6)
    assert p.flush(20) == 0
    epochs = _epochs(cluster, name, 6)
    with cluster.zk_client() as zk:
        old = zk.get_controller_id()
        killed_at = time.monotonic()
        cluster.brokers[old].kill()
        new = wait_until(
            lambda: (c := zk.get_controller_id()) not in (None, old) and c,
            cluster.session_timeout_ms / 1000 + 8,
            "another broker to become the controller",
        )
    elapsed = time.monotonic() - killed_at
    assert elapsed < cluster.session_timeout_ms / 1000 + 6, elapsed
    survivor = cluster.brokers[new]
    offline = {p for p, leader in before.items() if leader == old}

    def offline_seen():
        errors = partition_errors(survivor.bootstrap, name)
        return all(errors[p] == (ErrorCode.LEADER_NOT_AVAILABLE, -1) for p in offline) and all(
            errors[p] == (0, before[p]) for p in before if p not in offline
        )

    wait_until(offline_seen, 15, "the dead broker's partitions to be offline, the others led as before")
    assert metadata(survivor.bootstrap)["controller_id"] == new

    cluster.brokers[old].start()
    assert wait_for_leaders(cluster, name, 6) == before  # factor 1: back on the same broker
    after = _epochs(cluster, name, 6)
    assert all(after[p] > epochs[p] for p in offline)  # a new leader epoch for each return
    got = confluent_consume_all(cluster.bootstrap, name, 6, 60)
    assert sorted(m.value().decode() for m in got) == sorted(f"v{i}" for i in range(60))


def test_a_rolling_restart_under_load_loses_no_acknowledged_record(cluster):
    name = new_name("rolling")
    _create(cluster, name, 6)
    acked, errors = [], []
    stop = threading.Event()

    def report(err, msg):
        if err is None:
            acked.append(msg.value().decode())
        else:
            errors.append(err)

    def load():
        p = Producer(
            {
                "bootstrap.servers": cluster.bootstrap,
                "enable.idempotence": True,
                "linger.ms": 5,
                "delivery.timeout.ms": 120000,
            }
        )
        i = 0
        while not stop.is_set():
            p.produce(name, value=f"r{i}".encode(), on_delivery=report)
            i += 1
            p.poll(0.005)
        p.flush(120)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        for broker_id, b in cluster.brokers.items():
            count = len(acked)
            wait_until(lambda count=count: len(acked) > count + 20, 30, "records acknowledged before the restart")
            b.stop()  # SIGTERM: a controlled shutdown first
            b.start()
            wait_for_leaders(cluster, name, 6, timeout=30)
    finally:
        stop.set()
        worker.join(150)
    assert not errors, errors[:5]
    got = [m.value().decode() for m in confluent_consume_all(cluster.bootstrap, name, 6, len(acked), timeout=60)]
    assert len(got) == len(set(got))  # idempotence: no duplicates
    assert set(acked) <= set(got)


def test_a_topic_deleted_while_a_broker_is_down_is_deleted_there_when_it_returns(cluster):
    name = new_name("deleted")
    by_partition = _create(cluster, name, 6)
    with cluster.zk_client() as zk:
        controller = zk.get_controller_id()
    down_id = next(i for i in cluster.brokers if i != controller)
    down = cluster.brokers[down_id]
    assert any(d.startswith(f"{name}-") for d in os.listdir(down.data_dir))
    down.stop()
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for f in admin.delete_topics([name]).values():
        f.result(30)  # complete once the live brokers forgot it
    with cluster.zk_client() as zk:
        assert zk.is_topic_marked_for_deletion(name)  # waiting for the broker that is down
        down.start()
        wait_until(
            lambda: name not in zk.get_all_topics() and not zk.is_topic_marked_for_deletion(name),
            30,
            "the deletion to complete",
        )
    wait_until(
        lambda: not any(d.startswith(f"{name}-") for d in os.listdir(down.data_dir)),
        15,
        "the returning broker to delete its partitions",
    )
    assert sorted(p for p, leader in by_partition.items() if leader == down_id)  # it held some
