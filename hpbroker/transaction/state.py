"""The transaction states as a table (Kafka's TransactionState), and one transactional id's
metadata (Kafka's TransactionMetadata).

    Empty --AddPartitions--> Ongoing --EndTxn(commit)--> PrepareCommit --markers--> CompleteCommit
                                     --EndTxn(abort), timeout, fencing--> PrepareAbort --markers--> CompleteAbort
    Empty, CompleteCommit, CompleteAbort --InitProducerId--> Empty (epoch bumped)
    CompleteCommit, CompleteAbort --AddPartitions--> Ongoing
    Empty, CompleteCommit, CompleteAbort --transactional.id.expiration.ms--> Dead

``VALID_PREVIOUS`` is Kafka's ``validPreviousStates``; ``check_transition`` refuses any move the
table does not have. ``STATUS`` is the byte each state is written as in __transaction_state.

Who may touch: the coordinator's event loop (coordinator.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class TransactionState(str, Enum):
    EMPTY = "Empty"
    ONGOING = "Ongoing"
    PREPARE_COMMIT = "PrepareCommit"
    PREPARE_ABORT = "PrepareAbort"
    COMPLETE_COMMIT = "CompleteCommit"
    COMPLETE_ABORT = "CompleteAbort"
    DEAD = "Dead"


E, ON, PC, PA, CC, CA, D = (
    TransactionState.EMPTY,
    TransactionState.ONGOING,
    TransactionState.PREPARE_COMMIT,
    TransactionState.PREPARE_ABORT,
    TransactionState.COMPLETE_COMMIT,
    TransactionState.COMPLETE_ABORT,
    TransactionState.DEAD,
)

#: target state -> the states a transactional id may enter it from
VALID_PREVIOUS: dict[TransactionState, frozenset[TransactionState]] = {
    E: frozenset({E, CC, CA}),
    ON: frozenset({ON, E, CC, CA}),
    PC: frozenset({ON}),
    PA: frozenset({ON}),
    CC: frozenset({PC}),
    CA: frozenset({PA}),
    D: frozenset({E, CA, CC}),
}

#: state -> its byte in a __transaction_state value (Kafka's TransactionState.id)
STATUS: dict[TransactionState, int] = {E: 0, ON: 1, PC: 2, PA: 3, CC: 4, CA: 5, D: 6}
STATE_OF_STATUS = {v: k for k, v in STATUS.items()}

#: states in which a transaction's markers are being written
PREPARING = frozenset({PC, PA})
#: states a new transaction (or an epoch bump) may start from
COMPLETED = frozenset({E, CC, CA})


class IllegalStateTransition(RuntimeError):
    """A coordinator bug: a move along an edge the table does not have."""


def check_transition(current: TransactionState, target: TransactionState) -> None:
    if current not in VALID_PREVIOUS[target]:
        raise IllegalStateTransition(f"transaction cannot go from {current.value} to {target.value}")


@dataclass
class TransactionMetadata:
    """One transactional id: what __transaction_state holds for it, plus ``pending`` (a state
    being written: requests meanwhile are answered CONCURRENT_TRANSACTIONS)."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: TransactionState = E
    partitions: set[tuple[str, int]] = field(default_factory=set)
    start_ms: int = -1
    last_update_ms: int = -1
    last_producer_epoch: int = -1
    pending: TransactionState | None = None

    def moved_to(self, target: TransactionState, **changes) -> TransactionMetadata:
        """A copy in ``target`` (checked against the table) with ``changes``; the original is
        replaced only once the copy is in the log."""
        check_transition(self.state, target)
        new = TransactionMetadata(
            self.transactional_id,
            self.producer_id,
            self.producer_epoch,
            self.timeout_ms,
            target,
            set(self.partitions),
            self.start_ms,
            self.last_update_ms,
            self.last_producer_epoch,
        )
        for k, v in changes.items():
            setattr(new, k, v)
        return new
