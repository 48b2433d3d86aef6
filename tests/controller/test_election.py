"""Kafka's election functions (PartitionLeaderElectionAlgorithms, Election) and the state
machines' tables (PartitionState and ReplicaState validPreviousStates)."""

from hpbroker.cluster.zk_data import LeaderAndIsr, TopicPartition
from hpbroker.controller import election
from hpbroker.controller.states import (
    PARTITION_VALID_PREVIOUS,
    REPLICA_VALID_PREVIOUS,
    PartitionState,
    ReplicaState,
)

TP = TopicPartition("t", 0)


def test_offline_election_takes_the_first_live_isr_replica_in_assignment_order():
    assert election.offline_partition_leader_election([3, 1, 2], [1, 2], {1, 2, 3}, False) == 1
    assert election.offline_partition_leader_election([3, 1, 2], [2, 1], {2, 3}, False) == 2


def test_offline_election_without_a_live_isr_member_is_unclean_only_when_allowed():
    assert election.offline_partition_leader_election([1, 2], [1], {2}, False) is None
    assert election.offline_partition_leader_election([1, 2], [1], {2}, True) == 2
    assert election.offline_partition_leader_election([1, 2], [1], set(), True) is None


def test_leader_for_offline_bumps_the_epoch_and_keeps_the_live_isr():
    current = LeaderAndIsr(1, 4, (1, 2, 3), zk_version=7)
    r = election.leader_for_offline(TP, [1, 2, 3], current, {2, 3}, False)
    assert r.leader_and_isr == LeaderAndIsr(2, 5, (2, 3), zk_version=7)
    assert r.live_replicas == (2, 3)
    unclean = election.leader_for_offline(TP, [1, 2], LeaderAndIsr(1, 4, (1,)), {2}, True)
    assert unclean.leader_and_isr == LeaderAndIsr(2, 5, (2,))
    offline = election.leader_for_offline(TP, [1], LeaderAndIsr(1, 4, (1,)), set(), False)
    assert offline.leader_and_isr is None and offline.live_replicas == ()


def test_controlled_shutdown_election_avoids_the_brokers_shutting_down():
    current = LeaderAndIsr(1, 2, (1, 2, 3))
    r = election.leader_for_controlled_shutdown(TP, [1, 2, 3], current, {1, 2, 3}, {1})
    assert r.leader_and_isr == LeaderAndIsr(2, 3, (2, 3))
    assert r.live_replicas == (1, 2, 3)
    alone = election.leader_for_controlled_shutdown(TP, [1], LeaderAndIsr(1, 2, (1,)), {1}, {1})
    assert alone.leader_and_isr is None


def test_preferred_election_takes_the_first_replica_only_if_live_and_in_isr():
    assert election.preferred_replica_partition_leader_election([2, 1], [1, 2], {1, 2}) == 2
    assert election.preferred_replica_partition_leader_election([2, 1], [1], {1, 2}) is None
    assert election.reassign_partition_leader_election([4, 5], [5, 1], {4, 5}) == 5


def test_partition_state_table_is_kafkas():
    P = PartitionState
    assert PARTITION_VALID_PREVIOUS == {
        P.NEW: {P.NON_EXISTENT},
        P.ONLINE: {P.NEW, P.ONLINE, P.OFFLINE},
        P.OFFLINE: {P.NEW, P.ONLINE, P.OFFLINE},
        P.NON_EXISTENT: {P.OFFLINE},
    }


def test_replica_state_table_is_kafkas():
    R = ReplicaState
    assert REPLICA_VALID_PREVIOUS == {
        R.NEW: {R.NON_EXISTENT},
        R.ONLINE: {R.NEW, R.ONLINE, R.OFFLINE, R.DELETION_INELIGIBLE},
        R.OFFLINE: {R.NEW, R.ONLINE, R.OFFLINE, R.DELETION_INELIGIBLE},
        R.DELETION_STARTED: {R.OFFLINE},
        R.DELETION_SUCCESSFUL: {R.DELETION_STARTED},
        R.DELETION_INELIGIBLE: {R.OFFLINE, R.DELETION_STARTED},
        R.NON_EXISTENT: {R.DELETION_SUCCESSFUL},
    }
