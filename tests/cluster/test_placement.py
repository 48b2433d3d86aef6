"""Replica placement as Kafka's AdminUtils.assignReplicasToBrokers places replicas (the cases of
Kafka's AdminRackAwareTest), and the placement of added partitions."""

import random
from collections import Counter

import pytest

from hpbroker.cluster.placement import (
    BrokerMetadata,
    PlacementError,
    assign_replicas_to_brokers,
    new_partitions_assignment,
    rack_alternated_brokers,
)
from hpbroker.protocol.errors import ErrorCode


def _brokers(rack_map):
    return [BrokerMetadata(b, r) for b, r in rack_map.items()]


def test_rack_unaware_assignment_is_kafkas():
    brokers = [BrokerMetadata(i) for i in range(5)]
    assert assign_replicas_to_brokers(brokers, 10, 3, 0) == {
        0: [0, 1, 2],
        1: [1, 2, 3],
        2: [2, 3, 4],
        3: [3, 4, 0],
        4: [4, 0, 1],
        5: [0, 2, 3],
        6: [1, 3, 4],
        7: [2, 4, 0],
        8: [3, 0, 1],
        9: [4, 1, 2],
    }


@pytest.mark.parametrize("rf", [0, 6])
def test_a_factor_of_zero_or_above_the_brokers_is_refused(rf):
    with pytest.raises(PlacementError) as err:
        assign_replicas_to_brokers([BrokerMetadata(i) for i in range(5)], 10, rf)
    assert err.value.code == ErrorCode.INVALID_REPLICATION_FACTOR
    if rf == 6:
        assert err.value.message == "Replication factor: 6 larger than available brokers: 5."


def test_rack_alternated_list_and_rack_aware_assignment_are_kafkas():
    rack_map = {0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"}
    assert rack_alternated_brokers(rack_map) == [0, 3, 1, 5, 4, 2]
    assert rack_alternated_brokers({b: r for b, r in rack_map.items() if b != 5}) == [0, 3, 1, 4, 2]
    assert assign_replicas_to_brokers(_brokers(rack_map), 7, 3, 0, 0) == {
        0: [0, 3, 1],
        1: [3, 1, 5],
        2: [1, 5, 4],
        3: [5, 4, 2],
        4: [4, 2, 0],
        5: [2, 0, 3],
        6: [0, 4, 2],
    }


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("partitions, rf", [(6, 3), (12, 2), (6, 2)])
def test_rack_aware_spreads_replicas_over_racks_and_leaders_evenly(seed, partitions, rf):
    rack_map = {0: "rack1", 1: "rack2", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack1"}
    assignment = assign_replicas_to_brokers(_brokers(rack_map), partitions, rf, rng=random.Random(seed))
    for replicas in assignment.values():
        assert len(set(replicas)) == rf
        assert len({rack_map[b] for b in replicas}) == rf  # one replica per rack
    leaders = Counter(r[0] for r in assignment.values())
    assert sorted(leaders.values()) == [partitions // 6] * 6
    replicas = Counter(b for r in assignment.values() for b in r)
    assert sorted(replicas.values()) == [partitions * rf // 6] * 6


def test_some_brokers_with_a_rack_and_some_without_is_refused():
    with pytest.raises(PlacementError, match="Not all brokers have rack information"):
        assign_replicas_to_brokers([BrokerMetadata(1, "a"), BrokerMetadata(2)], 3, 1)


def test_factor_one_spreads_leaders_round_robin_from_a_random_start():
    brokers = [BrokerMetadata(i) for i in (1, 2, 3)]
    starts = set()
    for seed in range(20):
        a = assign_replicas_to_brokers(brokers, 6, 1, rng=random.Random(seed))
        assert Counter(r[0] for r in a.values()) == {1: 2, 2: 2, 3: 2}
        starts.add(a[0][0])
    assert starts == {1, 2, 3}


def test_added_partitions_continue_after_partition_zeros_leader():
    brokers = [BrokerMetadata(i) for i in (1, 2, 3)]
    existing = {0: [2], 1: [3], 2: [1]}
    assert new_partitions_assignment("t", existing, brokers, 6) == {3: [2], 4: [3], 5: [1]}
    with pytest.raises(PlacementError) as err:
        new_partitions_assignment("t", existing, brokers, 3)
    assert err.value.code == ErrorCode.INVALID_PARTITIONS
