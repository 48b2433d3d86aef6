"""Transactions in a cluster of three brokers on a real ZooKeeper: a transaction spanning
partitions led by every broker is committed or aborted through WriteTxnMarkers to the leaders,
its offsets (send_offsets_to_transaction) land with the commit, and a coordinator killed after
PrepareCommit, before its markers reached a paused leader, is replaced by the new leader of its
__transaction_state partition, which finishes the commit.

One cluster serves the module; tests start again the brokers they stop."""

import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from tests.cluster.brokers import (
    CLUSTER_OF_BROKERS,
    create_topics,
    metadata,
    new_name,
    request,
    wait_for_leaders,
)

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]

FIND_COORDINATOR = 10
CONFIG = {
    "replica.lag.time.max.ms": 3000,
    "offsets.topic.num.partitions": 3,
    "transaction.state.log.num.partitions": 3,
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": 500,
    "group.initial.rebalance.delay.ms": 0,
}


@pytest.fixture(scope="module")
def cluster(zookeeper_server):
    zookeeper_server.start()
    with running_cluster(3, zookeeper=zookeeper_server, config=CONFIG) as c:
        for b in c.brokers.values():
            wait_until(lambda b=b: len(metadata(b.bootstrap)["brokers"]) == 3, 20, "the three brokers")
        yield c


def _create(cluster, topic):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for f in admin.create_topics([topic]).values():
        f.result(20)


def _committed_values(bootstrap, topic, partitions, count, timeout=30.0):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "r-" + uuid.uuid4().hex[:8],
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = []

    def step():
        m = c.poll(0.2)
        if m is not None and m.error() is None:
            got.append(m.value())
        return len(got) >= count

    try:
        wait_until(step, timeout, f"{count} committed records of {topic}", interval=0)
        extra = c.poll(1.0)  # nothing more comes
        assert extra is None or extra.error() is not None, extra.value()
    finally:
        c.close()
    return got


def test_a_transaction_over_every_broker_commits_and_aborts(cluster):
    name = new_name("txn")
    _create(cluster, NewTopic(name, 3, 3))
    leaders = wait_for_leaders(cluster, name, 3)
    assert set(leaders.values()) == {1, 2, 3}
    p = Producer({"bootstrap.servers": cluster.bootstrap, "transactional.id": "tx-" + name, "linger.ms": 5})
    p.init_transactions(30)
    group = "g-" + name
    c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        p.begin_transaction()
        for i in range(9):
            p.produce(name, f"aborted-{i}".encode(), partition=i % 3)
        assert p.flush(20) == 0
        p.abort_transaction(30)
        p.begin_transaction()
        for i in range(9):
            p.produce(name, f"committed-{i}".encode(), partition=i % 3)
        p.send_offsets_to_transaction([TopicPartition(name, 0, 42)], c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        got = _committed_values(cluster.bootstrap, name, 3, 9)
        assert sorted(got) == sorted(f"committed-{i}".encode() for i in range(9))
        wait_until(
            lambda: c.committed([TopicPartition(name, 0)], timeout=10)[0].offset == 42, 20, "the committed offset"
        )
    finally:
        c.close()


def test_the_new_coordinator_finishes_a_prepared_commit(cluster):
    name = new_name("txnfail")
    txn_id = "tx-" + name
    coordinator = wait_until(
        lambda: (
            (r := request(cluster.brokers[1].bootstrap, FIND_COORDINATOR, 2, {"key": txn_id, "key_type": 1}))[
                "error_code"
            ]
            == 0
            and r["node_id"]
        ),
        20,
        "the transaction coordinator",
    )
    leader = next(b for b in (1, 2, 3) if b != coordinator)
    controller = cluster.brokers[metadata(cluster.brokers[1].bootstrap)["controller_id"]]
    assignment = [{"partition_index": 0, "broker_ids": [leader]}]
    assert create_topics(controller.bootstrap, name, -1, -1, assignment)["error_code"] == 0
    wait_for_leaders(cluster, name, 1)
    p = Producer({"bootstrap.servers": cluster.bootstrap, "transactional.id": txn_id, "linger.ms": 5})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(name, b"prepared", partition=0)
    assert p.flush(20) == 0
    cluster.brokers[leader].pause()  # the markers cannot reach the data's leader
    try:
        p.commit_transaction(120)  # answered once PrepareCommit is in __transaction_state's ISR
        cluster.brokers[coordinator].kill()
    finally:
        cluster.brokers[leader].resume()
    try:
        survivors = ",".join(b.bootstrap for i, b in cluster.brokers.items() if i != coordinator)
        assert _committed_values(survivors, name, 1, 1, timeout=60) == [b"prepared"]
    finally:
        cluster.brokers[coordinator].start()
        wait_until(
            lambda: len(metadata(cluster.brokers[coordinator].bootstrap)["brokers"]) == 3, 30, "the restarted broker"
        )
