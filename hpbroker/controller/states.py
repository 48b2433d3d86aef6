"""The controller's two state machines, as tables (Kafka's PartitionStateMachine and
ReplicaStateMachine states, with their valid previous states).

A partition:

    NonExistent -> New          its assignment was written (CreateTopics, CreatePartitions)
    New -> Online               its state znode created with the first live replica as leader
    Online|Offline -> Online    a leader elected (offline, controlled shutdown, preferred)
    New|Online|Offline -> Offline   its leader died (or the topic is being deleted)
    Offline -> NonExistent      its topic deleted

A replica (a partition on one broker):

    NonExistent -> New                  a new partition's replica, before its leader is elected
    New|Online|Offline|DeletionIneligible -> Online   told its state with LeaderAndIsr
    New|Online|Offline|DeletionIneligible -> Offline  its broker died or shuts down: StopReplica
                                                      (no delete), removed from the ISR
    Offline -> DeletionStarted          StopReplica(delete) sent (its topic is being deleted)
    DeletionStarted -> DeletionSuccessful   the broker answered it without error
    Offline|DeletionStarted -> DeletionIneligible   it failed, or its broker is down: retried
                                                    when the broker is back
    DeletionSuccessful -> NonExistent   the topic is gone

A change from a state not listed as a valid previous one is refused and logged (Kafka's
"should be in one of ... states before moving to ...").
"""

from __future__ import annotations

import enum


class PartitionState(enum.Enum):
    NEW = "NewPartition"
    ONLINE = "OnlinePartition"
    OFFLINE = "OfflinePartition"
    NON_EXISTENT = "NonExistentPartition"


class ReplicaState(enum.Enum):
    NEW = "NewReplica"
    ONLINE = "OnlineReplica"
    OFFLINE = "OfflineReplica"
    DELETION_STARTED = "ReplicaDeletionStarted"
    DELETION_SUCCESSFUL = "ReplicaDeletionSuccessful"
    DELETION_INELIGIBLE = "ReplicaDeletionIneligible"
    NON_EXISTENT = "NonExistentReplica"


P, R = PartitionState, ReplicaState

#: target state -> the states a partition may move to it from
PARTITION_VALID_PREVIOUS: dict[PartitionState, frozenset[PartitionState]] = {
    P.NEW: frozenset({P.NON_EXISTENT}),
    P.ONLINE: frozenset({P.NEW, P.ONLINE, P.OFFLINE}),
    P.OFFLINE: frozenset({P.NEW, P.ONLINE, P.OFFLINE}),
    P.NON_EXISTENT: frozenset({P.OFFLINE}),
}

#: target state -> the states a replica may move to it from
REPLICA_VALID_PREVIOUS: dict[ReplicaState, frozenset[ReplicaState]] = {
    R.NEW: frozenset({R.NON_EXISTENT}),
    R.ONLINE: frozenset({R.NEW, R.ONLINE, R.OFFLINE, R.DELETION_INELIGIBLE}),
    R.OFFLINE: frozenset({R.NEW, R.ONLINE, R.OFFLINE, R.DELETION_INELIGIBLE}),
    R.DELETION_STARTED: frozenset({R.OFFLINE}),
    R.DELETION_SUCCESSFUL: frozenset({R.DELETION_STARTED}),
    R.DELETION_INELIGIBLE: frozenset({R.OFFLINE, R.DELETION_STARTED}),
    R.NON_EXISTENT: frozenset({R.DELETION_SUCCESSFUL}),
}


def valid_partition_change(current: PartitionState, target: PartitionState) -> bool:
    return current in PARTITION_VALID_PREVIOUS[target]


def valid_replica_change(current: ReplicaState, target: ReplicaState) -> bool:
    return current in REPLICA_VALID_PREVIOUS[target]
