"""Where a new topic's replicas go: Kafka's AdminUtils.assignReplicasToBrokers, and the
placement of added partitions (AdminZkClient.createNewPartitionsAssignment).

Without racks: brokers sorted by id; partition p's first replica (its preferred leader) is the
broker at (p + start) mod n, from a random start, so leaders spread round-robin; the other
replicas follow it at a shift that grows by one every n partitions, so that followers spread too.

With racks (every broker has ``broker.rack``): the same walk over the brokers listed rack by rack
in turn (rack1's first, rack2's first, ..., rack1's second, ...), skipping a broker whose rack
already holds a replica of the partition while some rack holds none, and a broker that already
holds one while some broker holds none. Some brokers with a rack and some without is refused
(Kafka's "Not all brokers have rack information").

Errors are ``PlacementError(code, message)`` with Kafka's code and text.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hpbroker.protocol.errors import ErrorCode


@dataclass(frozen=True)
class BrokerMetadata:
    broker_id: int
    rack: str | None = None


class PlacementError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def assign_replicas_to_brokers(
    brokers: Sequence[BrokerMetadata],
    num_partitions: int,
    replication_factor: int,
    fixed_start_index: int = -1,
    start_partition_id: int = -1,
    rng: random.Random | None = None,
) -> dict[int, list[int]]:
    if num_partitions <= 0:
        raise PlacementError(ErrorCode.INVALID_PARTITIONS, "Number of partitions must be larger than 0.")
    if replication_factor <= 0:
        raise PlacementError(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.")
    if replication_factor > len(brokers):
        raise PlacementError(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"Replication factor: {replication_factor} larger than available brokers: {len(brokers)}.",
        )
    rng = rng or random.Random()
    brokers = sorted(brokers, key=lambda b: b.broker_id)
    if all(b.rack is None for b in brokers):
        return _rack_unaware(
            num_partitions,
            replication_factor,
            [b.broker_id for b in brokers],
            fixed_start_index,
            start_partition_id,
            rng,
        )
    if any(b.rack is None for b in brokers):
        raise PlacementError(
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            "Not all brokers have rack information for replica rack aware assignment.",
        )
    return _rack_aware(
        num_partitions,
        replication_factor,
        {b.broker_id: b.rack for b in brokers if b.rack is not None},
        fixed_start_index,
        start_partition_id,
        rng,
    )


def _replica_index(first_replica_index: int, second_replica_shift: int, replica_index: int, n: int) -> int:
    shift = 1 + (second_replica_shift + replica_index) % (n - 1)
    return (first_replica_index + shift) % n


def _rack_unaware(
    num_partitions: int, rf: int, brokers: list[int], fixed_start: int, start_partition: int, rng: random.Random
) -> dict[int, list[int]]:
    n = len(brokers)
    start_index = fixed_start if fixed_start >= 0 else rng.randrange(n)
    partition = max(0, start_partition)
    shift = fixed_start if fixed_start >= 0 else rng.randrange(n)
    out: dict[int, list[int]] = {}
    for _ in range(num_partitions):
        if partition > 0 and partition % n == 0:
            shift += 1
        first = (partition + start_index) % n
        replicas = [brokers[first]]
        for j in range(rf - 1):
            replicas.append(brokers[_replica_index(first, shift, j, n)])
        out[partition] = replicas
        partition += 1
    return out


def rack_alternated_brokers(broker_racks: Mapping[int, str]) -> list[int]:
    """Brokers rack by rack in turn, racks sorted, each rack's brokers by id."""
    by_rack: dict[str, list[int]] = {}
    for broker_id, rack in broker_racks.items():
        by_rack.setdefault(rack, []).append(broker_id)
    iterators = {rack: iter(sorted(ids)) for rack, ids in by_rack.items()}
    racks = sorted(by_rack)
    out: list[int] = []
    i = 0
    while len(out) < len(broker_racks):
        nxt = next(iterators[racks[i]], None)
        if nxt is not None:
            out.append(nxt)
        i = (i + 1) % len(racks)
    return out


def _rack_aware(
    num_partitions: int,
    rf: int,
    broker_racks: dict[int, str],
    fixed_start: int,
    start_partition: int,
    rng: random.Random,
) -> dict[int, list[int]]:
    num_racks = len(set(broker_racks.values()))
    arranged = rack_alternated_brokers(broker_racks)
    n = len(arranged)
    start_index = fixed_start if fixed_start >= 0 else rng.randrange(n)
    partition = max(0, start_partition)
    shift = fixed_start if fixed_start >= 0 else rng.randrange(n)
    out: dict[int, list[int]] = {}
    for _ in range(num_partitions):
        if partition > 0 and partition % n == 0:
            shift += 1
        first = (partition + start_index) % n
        leader = arranged[first]
        replicas = [leader]
        racks_with = {broker_racks[leader]}
        brokers_with = {leader}
        k = 0
        for _ in range(rf - 1):
            while True:
                broker = arranged[_replica_index(first, shift * num_racks, k, n)]
                rack = broker_racks[broker]
                k += 1
                if (rack not in racks_with or len(racks_with) == num_racks) and (
                    broker not in brokers_with or len(brokers_with) == n
                ):
                    replicas.append(broker)
                    racks_with.add(rack)
                    brokers_with.add(broker)
                    break
        out[partition] = replicas
        partition += 1
    return out


def new_partitions_assignment(
    topic: str,
    existing: Mapping[int, Sequence[int]],
    brokers: Sequence[BrokerMetadata],
    num_partitions: int,
    rng: random.Random | None = None,
) -> dict[int, list[int]]:
    """The replicas of the partitions a CreatePartitions adds (AdminZkClient's
    createNewPartitionsAssignment): the existing factor, placed from the broker of partition 0's
    first replica on, so the new leaders continue the round-robin."""
    if 0 not in existing:
        raise PlacementError(
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            f"Unexpected existing replica assignment for topic '{topic}', partition id 0 is missing.",
        )
    to_add = num_partitions - len(existing)
    if to_add <= 0:
        raise PlacementError(
            ErrorCode.INVALID_PARTITIONS,
            f"The number of partitions for a topic can only be increased. Topic {topic} currently has "
            f"{len(existing)} partitions, {num_partitions} would not be an increase.",
        )
    first = existing[0][0]
    ordered = sorted(brokers, key=lambda b: b.broker_id)
    start = next((i for i, b in enumerate(ordered) if b.broker_id >= first), 0)
    return assign_replicas_to_brokers(ordered, to_add, len(existing[0]), start, len(existing), rng)
