"""Leader election: Kafka's election functions (PartitionLeaderElectionAlgorithms and Election).

Each takes a partition's assignment (replicas in preference order), its ISR and which replicas
are live, and returns the leader, or None when no replica may lead:

- offline (the leader died, or a new partition): the first replica in assignment order that
  is live and in the ISR; with none and unclean election allowed
  (``unclean.leader.election.enable``, the broker's or the topic's), the first live replica;
  else none, and the partition stays offline until an ISR member returns.
- controlled shutdown: the first live ISR replica that is not shutting down.
- preferred replica: the first replica of the assignment, if it is live and in the ISR.
- reassignment: the first target replica that is live and in the ISR.

The new ISR: after an offline election, the live members of the old ISR (or the unclean leader
alone); after a controlled shutdown, the old ISR without the brokers shutting down; otherwise
unchanged. Every election bumps the leader epoch (``LeaderAndIsr.new_leader_and_isr``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hpbroker.cluster.zk_data import LeaderAndIsr, TopicPartition


def offline_partition_leader_election(
    assignment: Sequence[int], isr: Sequence[int], live: set[int], unclean_allowed: bool
) -> int | None:
    leader = next((r for r in assignment if r in live and r in isr), None)
    if leader is None and unclean_allowed:
        leader = next((r for r in assignment if r in live), None)
    return leader


def controlled_shutdown_partition_leader_election(
    assignment: Sequence[int], isr: Sequence[int], live: set[int], shutting_down: set[int]
) -> int | None:
    return next((r for r in assignment if r in live and r in isr and r not in shutting_down), None)


def preferred_replica_partition_leader_election(
    assignment: Sequence[int], isr: Sequence[int], live: set[int]
) -> int | None:
    if assignment and assignment[0] in live and assignment[0] in isr:
        return assignment[0]
    return None


def reassign_partition_leader_election(target: Sequence[int], isr: Sequence[int], live: set[int]) -> int | None:
    return next((r for r in target if r in live and r in isr), None)


@dataclass(frozen=True)
class ElectionResult:
    """The new state (None: no leader could be elected) and the replicas to tell."""

    tp: TopicPartition
    leader_and_isr: LeaderAndIsr | None
    live_replicas: tuple[int, ...]


def leader_for_offline(
    tp: TopicPartition, assignment: Sequence[int], current: LeaderAndIsr, live: set[int], unclean_allowed: bool
) -> ElectionResult:
    live_replicas = tuple(r for r in assignment if r in live)
    leader = offline_partition_leader_election(assignment, current.isr, live, unclean_allowed)
    if leader is None:
        return ElectionResult(tp, None, live_replicas)
    new_isr = tuple(r for r in current.isr if r in live) if leader in current.isr else (leader,)
    return ElectionResult(tp, current.new_leader_and_isr(leader, new_isr), live_replicas)


def leader_for_controlled_shutdown(
    tp: TopicPartition,
    assignment: Sequence[int],
    current: LeaderAndIsr,
    live_or_shutting_down: set[int],
    shutting_down: set[int],
) -> ElectionResult:
    live_replicas = tuple(r for r in assignment if r in live_or_shutting_down)
    leader = controlled_shutdown_partition_leader_election(
        assignment, current.isr, live_or_shutting_down, shutting_down
    )
    if leader is None:
        return ElectionResult(tp, None, live_replicas)
    new_isr = tuple(r for r in current.isr if r not in shutting_down)
    return ElectionResult(tp, current.new_leader_and_isr(leader, new_isr), live_replicas)


def leader_for_preferred_replica(
    tp: TopicPartition, assignment: Sequence[int], current: LeaderAndIsr, live: set[int]
) -> ElectionResult:
    leader = preferred_replica_partition_leader_election(assignment, current.isr, live)
    if leader is None:
        return ElectionResult(tp, None, tuple(assignment))
    return ElectionResult(tp, current.new_leader_and_isr(leader, current.isr), tuple(assignment))
