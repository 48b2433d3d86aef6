"""The controller's requests as a broker applies them, whatever version they came in: the API
modules (handlers/leader_and_isr.py, update_metadata.py, stop_replica.py) turn each decoded
request into these, and the broker's cluster role (``Broker.cluster``, interface.py) applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpbroker.broker.interface import Node


@dataclass(frozen=True)
class LeaderAndIsrState:
    """One partition of a LeaderAndIsr request."""

    topic: str
    partition: int
    controller_epoch: int
    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    partition_epoch: int  # the zkVersion of the partition's state znode
    replicas: tuple[int, ...]
    is_new: bool = False


@dataclass(frozen=True)
class UpdateMetadataState:
    """One partition of an UpdateMetadata request (leader -2: its topic is being deleted)."""

    topic: str
    partition: int
    controller_epoch: int
    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    zk_version: int
    replicas: tuple[int, ...]
    offline_replicas: tuple[int, ...] = ()


@dataclass(frozen=True)
class StopReplicaState:
    """One partition of a StopReplica request (leader epoch -2: its topic is being deleted; -1:
    none given)."""

    topic: str
    partition: int
    leader_epoch: int
    delete: bool


@dataclass(frozen=True)
class UpdateMetadataRequest:
    controller_id: int
    controller_epoch: int
    broker_epoch: int
    states: list[UpdateMetadataState]
    topic_ids: dict[str, bytes]
    live_brokers: list[Node]
