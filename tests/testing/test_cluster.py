"""hpbroker.testing.cluster: a ZooKeeper and N hpbroker processes that form a cluster; these tests
check what the harness itself does (the cluster's behaviour: tests/cluster)."""

import os

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from hpbroker.cluster import zk_data as zd
from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from hpbroker.testing.zookeeper import zookeeper_unavailable

pytestmark = pytest.mark.integration


def _node_ids(bootstrap):
    return sorted(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).brokers)


def test_brokers_start_with_their_ids_and_the_cluster_settings(hpbroker_cluster):
    cluster = hpbroker_cluster
    assert sorted(cluster.brokers) == [1, 2, 3]
    assert len({b.port for b in cluster.brokers.values()}) == 3
    for b in cluster.brokers.values():
        assert b.running and b.config["zookeeper.connect"] == cluster.zookeeper_connect
        # every broker knows the three (broker.id is each one's node id)
        wait_until(lambda b=b: _node_ids(b.bootstrap) == [1, 2, 3], 20, f"broker {b.broker_id} to list all three")
    assert cluster.zookeeper_connect.startswith(cluster.zookeeper.connect + "/hpbroker-")
    with cluster.zk_client() as zk:  # the cluster's chroot, with Kafka's top-level paths and registrations
        assert all(zk.path_exists(p) for p in zd.PERSISTENT_PATHS)
        assert zk.get_sorted_broker_list() == [1, 2, 3]


def test_a_killed_broker_starts_again_on_its_port_and_data(zookeeper_server):
    with running_cluster(1, zookeeper=zookeeper_server) as cluster:
        b = cluster.brokers[1]
        p = Producer({"bootstrap.servers": b.bootstrap})
        p.produce("kept", value=b"v1")
        assert p.flush(15) == 0
        port, pid = b.port, b.pid
        b.kill()
        assert not b.running
        b.start()
        assert b.port == port and b.pid != pid
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "g", "auto.offset.reset": "earliest"})
        try:
            c.subscribe(["kept"])
            msg = None
            for _ in range(30):
                msg = c.poll(1.0)
                if msg is not None and not msg.error():
                    break
            assert msg is not None and msg.value() == b"v1"
        finally:
            c.close()
        base = os.path.dirname(b.data_dir)
    assert not os.path.exists(base)  # the cluster's directories are removed
    assert zookeeper_server.running  # and a ZooKeeper it was given is left running


@pytest.mark.skipif(bool(zookeeper_unavailable()), reason=f"no ZooKeeper: {zookeeper_unavailable()}")
def test_a_cluster_without_a_zookeeper_runs_its_own():
    with running_cluster(1, start=False) as cluster:
        zk = cluster.zookeeper
        assert zk.running and not cluster.brokers[1].running and cluster.bootstrap == ""
        cluster.brokers[1].start()
        assert cluster.bootstrap == cluster.brokers[1].bootstrap
    assert not zk.running
