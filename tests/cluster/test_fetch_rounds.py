"""Replication fetch round by fetch round, in a cluster of two brokers: the follower's fetches are
let through one at a time (the HPBROKER_TEST_REPLICA_FETCH_GATE hook, replication/fetcher.py), and
after each the leader's and the follower's log end offset (LEO) and high watermark (HW) are
checked: the HW moves one fetch round after the records reach the follower (Kafka's seed
scenario of KIP-101)."""

import json

import pytest

from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from tests.cluster.brokers import CLUSTER_OF_BROKERS, LIST_OFFSETS, create_topics, metadata, new_name, produce, request
from tests.cluster.replicas import batches, wait_for_isr

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]


def _leader_hw(bootstrap, topic):
    body = {
        "replica_id": -1,
        "isolation_level": 0,
        "topics": [
            {"name": topic, "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}]}
        ],
    }
    return request(bootstrap, LIST_OFFSETS, 5, body)["topics"][0]["partitions"][0]["offset"]


def _leo(broker, topic):
    found = batches(broker.data_dir, topic, 0)
    return found[-1][1] + 1 if found else 0


def test_hw_and_leo_move_over_two_fetch_rounds(zookeeper_server, tmp_path, monkeypatch):
    zookeeper_server.start()
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "allow").write_text("0")
    with running_cluster(2, zookeeper=zookeeper_server, start=False) as cluster:
        leader, follower = cluster.brokers[1], cluster.brokers[2]
        leader.start()
        monkeypatch.setenv("HPBROKER_TEST_REPLICA_FETCH_GATE", str(gate))
        follower.start()  # only the follower's fetches wait at the gate
        monkeypatch.delenv("HPBROKER_TEST_REPLICA_FETCH_GATE")
        for b in (leader, follower):
            wait_until(lambda b=b: len(metadata(b.bootstrap)["brokers"]) == 2, 30, "both brokers")
        name = new_name("rounds")
        created = create_topics(
            leader.bootstrap, name, -1, rf=-1, assignments=[{"partition_index": 0, "broker_ids": [1, 2]}]
        )
        assert created["error_code"] == 0
        wait_for_isr(cluster, name, 0, {1, 2})
        wait_until(lambda: produce(leader.bootstrap, name, 0, [b"m1", b"m2"])[0] == 0, 20, "the leader to take m1, m2")

        def applied(fetches):
            def read():
                try:
                    doc = json.loads((gate / "applied").read_text())
                except (OSError, ValueError):
                    return None
                return doc if doc["fetches"] >= fetches else None

            doc = wait_until(read, 20, f"the follower's fetch {fetches}")
            p = doc["partitions"][f"{name}-0"]
            return p["log_end_offset"], p["high_watermark"]

        # before any fetch: the leader has m1, m2; its HW waits for the follower
        assert (_leo(leader, name), _leader_hw(leader.bootstrap, name)) == (2, 0)
        (gate / "allow").write_text("1")  # round 1: the follower fetches from offset 0
        assert applied(1) == (2, 0)  # it has m1, m2; the leader saw its LEO as 0, so HW 0
        assert (_leo(leader, name), _leader_hw(leader.bootstrap, name)) == (2, 0)
        (gate / "allow").write_text("2")  # round 2: it fetches from offset 2
        assert applied(2) == (2, 2)  # the leader moved its HW to 2 and said so in the answer
        assert (_leo(leader, name), _leader_hw(leader.bootstrap, name)) == (2, 2)
        for f in gate.iterdir():
            f.unlink()
        gate.rmdir()  # the follower fetches freely again
