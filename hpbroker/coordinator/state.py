"""The classic consumer group state machine, as a table (Kafka's GroupState / ClassicGroupState).

    Empty --(a member joins)--> PreparingRebalance --(all known members rejoined, or the
    rebalance timeout)--> CompletingRebalance --(the leader's SyncGroup)--> Stable
    Stable / CompletingRebalance --(a join with new metadata, leave, session expiry)--> PreparingRebalance
    PreparingRebalance --(every member gone when the join completes)--> Empty
    any --(group deleted, or its __consumer_offsets partition unloaded)--> Dead

``VALID_PREVIOUS`` is Kafka's ``validPreviousStates``; ``TRANSITIONS`` is the same table read
the other way round. ``Group.transition_to`` refuses anything not in it, so an illegal move is a
bug caught where it happens, not a corrupted group found later.
"""

from __future__ import annotations

from enum import Enum


class GroupState(str, Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


E, PR, CR, S, D = (
    GroupState.EMPTY,
    GroupState.PREPARING_REBALANCE,
    GroupState.COMPLETING_REBALANCE,
    GroupState.STABLE,
    GroupState.DEAD,
)

#: target state -> the states a group may enter it from
VALID_PREVIOUS: dict[GroupState, frozenset[GroupState]] = {
    PR: frozenset({S, CR, E}),
    CR: frozenset({PR}),
    S: frozenset({CR}),
    E: frozenset({PR}),
    D: frozenset({S, PR, CR, E, D}),
}

#: state -> the states it may move to
TRANSITIONS: dict[GroupState, frozenset[GroupState]] = {
    s: frozenset(t for t, prev in VALID_PREVIOUS.items() if s in prev) for s in GroupState
}


class IllegalStateTransition(RuntimeError):
    """A coordinator bug: a group asked to move along an edge the table does not have."""


def check_transition(current: GroupState, target: GroupState) -> None:
    if current not in VALID_PREVIOUS[target]:
        raise IllegalStateTransition(f"group cannot go from {current.value} to {target.value}")
