"""The registry a broker of a cluster fills from the controller's requests."""

from hpbroker.broker.interface import Node
from hpbroker.broker.metadata_cache import ClusterMetadataCache, PartitionState
from hpbroker.metadata.cluster_registry import ClusterRegistry, is_cluster_snapshot

TID = bytes(range(16))


def _registry():
    r = ClusterRegistry()
    r.ensure_topic("t", TID, {"retention.ms": "5"})
    r.put_state("t", 0, PartitionState(1, 3, (1,), (1,), (), 2))
    r.put_state("t", 2, PartitionState(2, 0, (2,), (2,)))
    r.set_brokers([Node(1, "h1", 9092, (("PLAINTEXT", "h1", 9092),), "r1"), Node(2, "h2", 9093)], 1, 7)
    return r


def test_states_brokers_and_configs_survive_the_snapshot():
    r = _registry()
    data = r.to_bytes()
    assert is_cluster_snapshot(data)
    copy = ClusterRegistry.from_bytes("x", data)
    assert copy.topics["t"].topic_id == TID and copy.topics["t"].num_partitions == 3
    assert copy.topics["t"].configs == {"retention.ms": "5"}
    assert copy.state("t", 0) == PartitionState(1, 3, (1,), (1,), (), 2)
    assert copy.brokers == r.brokers and copy.controller_id == 1 and copy.controller_epoch == 7


def test_the_cache_answers_unknown_partitions_as_leaderless():
    cache = ClusterMetadataCache(Node(1, "h1", 9092), _registry())
    states = cache.partition_states(cache.topic("t"))
    assert [s.leader for s in states] == [1, -1, 2]
    assert cache.partition_state("t", 3) is None and cache.partition_state("x", 0) is None
    assert [n.node_id for n in cache.alive_brokers()] == [1, 2] and cache.controller_id == 1


def test_a_leader_and_isr_state_counts_only_if_newer():
    r = _registry()
    r.offer_state("t", 0, PartitionState(3, 2, (3,), (3,)))  # older epoch than UpdateMetadata's
    assert r.state("t", 0).leader == 1
    r.put_state("t", 0, PartitionState(1, 3, (1,), (1,), (2,), 2))
    r.offer_state("t", 0, PartitionState(3, 4, (3,), (3,), (), 5))
    assert r.state("t", 0) == PartitionState(3, 4, (3,), (3,), (2,), 5)  # offline replicas kept


def test_the_topic_goes_with_its_last_partition_and_a_new_id_is_a_new_topic():
    r = _registry()
    assert r.remove_partition("t", 0) and not r.remove_partition("t", 0)
    assert "t" in r.topics
    r.remove_partition("t", 2)
    assert "t" not in r.topics and "t" not in r.states
    r = _registry()
    info = r.ensure_topic("t", bytes(16 * [9]), {})
    assert info.topic_id == bytes(16 * [9]) and r.state("t", 0) is None and info.num_partitions == 0
