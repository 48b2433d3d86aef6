"""The group state machine is a table; these tests pin the table to Kafka's."""

import pytest

from hpbroker.coordinator.group import Group
from hpbroker.coordinator.state import (
    TRANSITIONS,
    VALID_PREVIOUS,
    GroupState,
    IllegalStateTransition,
    check_transition,
)

E, PR, CR, S, D = (
    GroupState.EMPTY,
    GroupState.PREPARING_REBALANCE,
    GroupState.COMPLETING_REBALANCE,
    GroupState.STABLE,
    GroupState.DEAD,
)


def test_valid_previous_states_are_kafkas():
    assert VALID_PREVIOUS == {
        PR: {S, CR, E},
        CR: {PR},
        S: {CR},
        E: {PR},
        D: {S, PR, CR, E, D},
    }


def test_transitions_read_the_same_table_forwards():
    assert TRANSITIONS == {
        E: {PR, D},
        PR: {CR, E, D},
        CR: {PR, S, D},
        S: {PR, D},
        D: {D},
    }


def test_state_names_are_the_ones_clients_see():
    assert [s.value for s in GroupState] == ["Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"]


@pytest.mark.parametrize("current", list(GroupState))
@pytest.mark.parametrize("target", list(GroupState))
def test_every_edge_is_checked(current, target):
    if target in TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalStateTransition):
            check_transition(current, target)


def test_group_refuses_an_illegal_move():
    g = Group("g")
    with pytest.raises(IllegalStateTransition):
        g.transition_to(S)
    g.transition_to(PR)
    g.transition_to(CR)
    g.transition_to(S)
    assert g.state is S
