"""A cluster of brokers in the multi-process topology (2 processors, 2 handlers each): the
controller's requests reach every process that needs them (partitions owned by handler 1 are led,
read through the processors and deleted like handler 0's), processors answer Metadata with the
leaders and NOT_LEADER_OR_FOLLOWER for partitions another broker leads, handler 0's ZooKeeper
session is the broker's life in the cluster (killing handler 0 is a bounce: a new broker epoch,
the partitions back), a broker whose supervisor died leaves no registration behind, and SIGTERM
is a controlled shutdown through handler 0 while the processors still serve."""

import os
import signal
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from hpbroker.protocol.errors import ErrorCode
from hpbroker.server.multiproc.routing import owner
from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from tests.cluster.brokers import (
    CLUSTER_OF_BROKERS,
    fetch_error,
    metadata,
    new_name,
    produce,
    wait_for_leaders,
)
from tests.integration.conftest import confluent_consume_all

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]

ARGS = ["--processors", "2", "--handlers", "2"]


@pytest.fixture(scope="module")
def cluster(zookeeper_server):
    zookeeper_server.start()
    # the longest session ZooKeeper grants here (20 ticks): a session closed is told from one expired
    with running_cluster(3, zookeeper=zookeeper_server, args=ARGS, session_timeout_ms=10000) as c:
        for b in c.brokers.values():
            wait_until(lambda b=b: len(metadata(b.bootstrap)["brokers"]) == 3, 30, "the three brokers")
        yield c


def _create(cluster, name, partitions):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for f in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        f.result(30)
    return wait_for_leaders(cluster, name, partitions, timeout=30)


def _child(supervisor_pid: int, comm: str) -> int | None:
    """The pid of the supervisor's child named ``comm`` (hpb-h0: handler 0)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if int(fields[1]) == supervisor_pid and name == comm:
            return int(entry)
    return None


def _epochs(cluster):
    with cluster.zk_client() as zk:
        return {i: e for i, (_, e) in zk.get_all_brokers_and_epochs().items()}


def test_partitions_of_every_handler_are_led_read_and_deleted(cluster):
    name = new_name("mp")
    by_partition = _create(cluster, name, 12)
    assert {owner(name, p, 2) for p in by_partition} == {0, 1}  # both handlers of each broker hold some
    p = Producer({"bootstrap.servers": cluster.bootstrap, "enable.idempotence": True})
    for i in range(120):
        p.produce(name, value=f"m{i}".encode(), partition=i % 12)
    assert p.flush(30) == 0
    got = confluent_consume_all(cluster.bootstrap, name, 12, 120, timeout=40)
    assert sorted(m.value().decode() for m in got) == sorted(f"m{i}" for i in range(120))
    for partition, leader in by_partition.items():
        other = next(b for i, b in cluster.brokers.items() if i != leader)
        assert fetch_error(other.bootstrap, name, partition) == ErrorCode.NOT_LEADER_OR_FOLLOWER  # a processor
        assert produce(other.bootstrap, name, partition, [b"x"])[0] == ErrorCode.NOT_LEADER_OR_FOLLOWER  # a handler

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for f in admin.delete_topics([name]).values():
        f.result(30)

    def files_gone():
        return not any(d.startswith(f"{name}-") for b in cluster.brokers.values() for d in os.listdir(b.data_dir))

    wait_until(files_gone, 30, "every partition's files, whichever handler held them, to be deleted")


def test_a_killed_handler_0_is_a_bounce_and_the_broker_comes_back(cluster):
    name = new_name("bounce")
    before = _create(cluster, name, 6)
    with cluster.zk_client() as zk:
        controller = zk.get_controller_id()
    target_id = next(i for i in cluster.brokers if i != controller)
    target = cluster.brokers[target_id]
    epochs = _epochs(cluster)
    handler0 = _child(target.pid, "hpb-h0")
    assert handler0 is not None
    os.kill(handler0, signal.SIGKILL)  # the supervisor starts another handler 0
    wait_until(
        lambda: _epochs(cluster).get(target_id, 0) > epochs[target_id],
        cluster.session_timeout_ms / 1000 + 20,
        "the broker to register again with a new broker epoch",
    )
    assert wait_for_leaders(cluster, name, 6, timeout=30) == before
    for partition, leader in before.items():
        if leader == target_id:  # led again once the controller told the new registration
            wait_until(
                lambda partition=partition: produce(target.bootstrap, name, partition, [b"after"])[0] == 0,
                30,
                f"partition {partition} to take records again",
            )


def test_a_dead_supervisor_leaves_no_registration_behind(cluster):
    target_id = 3
    target = cluster.brokers[target_id]
    assert target_id in _epochs(cluster)
    killed = time.monotonic()
    os.kill(target.pid, signal.SIGKILL)  # only the supervisor: its children are told to stop
    wait_until(lambda: target_id not in _epochs(cluster), 15, "the registration to go")
    # well before the session (10 s) could have expired: the session was closed
    assert time.monotonic() - killed < cluster.session_timeout_ms / 1000 - 2
    target.stop()
    target.start()
    wait_until(lambda: target_id in _epochs(cluster), 30, "the broker to register again")


def test_sigterm_is_a_controlled_shutdown_through_handler_0(cluster):
    target = cluster.brokers[2]
    target.stop()
    assert any("controlled shutdown of broker 2 succeeded" in line for line in target.log), "".join(target.log[-30:])
    target.start()
    wait_until(lambda: 2 in _epochs(cluster), 30, "broker 2 to register again")


def test_consumer_offsets_is_replicated(cluster):
    # consumer groups work on __consumer_offsets replicated as offsets.topic.replication.factor says
    name = new_name("groups")
    _create(cluster, name, 1)
    group = new_name("g")
    c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(name, 0, 7)], asynchronous=False)
        assert c.committed([TopicPartition(name, 0)], timeout=10)[0].offset == 7
    finally:
        c.close()
    with cluster.zk_client() as zk:
        assignment, _ = zk.get_topic_assignment("__consumer_offsets")
    # three replicas, or fewer if a broker was down when the first group request created it
    assert min(len(a.replicas) for a in assignment.partitions.values()) > 1
