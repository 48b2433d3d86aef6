"""A classic group in memory: members, generation, chosen protocol, leader (Kafka's GroupMetadata).

What is persisted (GroupMetadataValue) is the generation's outcome: protocol type and name,
leader, and each member's subscription and assignment. Everything else here is the life of a
rebalance in progress: parked JoinGroup/SyncGroup futures, session timers, pending member ids.

Who may touch: only the ``GroupMetadataManager`` (group_manager.py) of the shard that owns the
group, on its event loop; the shard's ``OffsetMetadataManager`` reads it.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass, field

from hpbroker.coordinator.consumer_protocol import decode_subscription
from hpbroker.coordinator.records import GroupMetadataValue, MemberMetadata
from hpbroker.coordinator.state import GroupState, check_transition


@dataclass(eq=False)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]  # (assignor name, subscription metadata), in preference order
    assignment: bytes = b""
    join_future: asyncio.Future | None = None  # a parked JoinGroup
    sync_future: asyncio.Future | None = None  # a parked SyncGroup
    heartbeat_timer: object = None  # asyncio.TimerHandle of the session expiry
    is_new: bool = False

    @property
    def awaiting_join(self) -> bool:
        return self.join_future is not None and not self.join_future.done()

    @property
    def awaiting_sync(self) -> bool:
        return self.sync_future is not None and not self.sync_future.done()

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def metadata(self, protocol: str | None) -> bytes:
        for name, meta in self.protocols:
            if name == protocol:
                return bytes(meta)
        return b""

    def matches(self, protocols: list[tuple[str, bytes]]) -> bool:
        return [(n, bytes(m)) for n, m in protocols] == [(n, bytes(m)) for n, m in self.protocols]

    def vote(self, candidates: set[str]) -> str:
        """The member's most preferred protocol among those every member supports."""
        return next(name for name in self.protocol_names() if name in candidates)


@dataclass(eq=False)
class Group:
    group_id: str
    state: GroupState = GroupState.EMPTY
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, Member] = field(default_factory=dict)  # member_id -> Member, in join order
    pending_members: dict[str, object] = field(default_factory=dict)  # MEMBER_ID_REQUIRED ids -> timer
    static_members: dict[str, str] = field(default_factory=dict)  # group_instance_id -> member_id
    state_timestamp: int = field(default_factory=lambda: int(time.time() * 1000))
    # the DelayedJoin (or InitialDelayedJoin) of the rebalance in progress
    join_timer: object = None
    new_member_added: bool = False
    in_initial_delay: bool = False
    initial_delay_remaining_ms: int = 0

    def is_(self, state: GroupState) -> bool:
        return self.state is state

    def transition_to(self, target: GroupState) -> None:
        check_transition(self.state, target)
        self.state = target
        self.state_timestamp = int(time.time() * 1000)

    # members ---------------------------------------------------------------------------------
    def add(self, member: Member) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        if self.leader_id is None:
            self.leader_id = member.member_id

    def remove(self, member_id: str) -> Member | None:
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        if member.group_instance_id is not None and self.static_members.get(member.group_instance_id) == member_id:
            del self.static_members[member.group_instance_id]
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        return member

    def replace_member_id(self, old_id: str, new_id: str) -> Member:
        """A static member rejoined as a new instance (KIP-345): the member keeps its place
        (join order, leadership, assignment) under ``new_id``; ``old_id`` is no longer known."""
        member = self.members[old_id]
        member.member_id = new_id
        self.members = {(new_id if k == old_id else k): m for k, m in self.members.items()}
        self.static_members[member.group_instance_id] = new_id
        if self.leader_id == old_id:
            self.leader_id = new_id
        return member

    def is_static_member_fenced(self, member_id: str, group_instance_id: str | None) -> bool:
        """Kafka's isStaticMemberFenced: ``group_instance_id`` belongs to a static member of
        this group whose member id is not ``member_id`` (a replaced instance still running)."""
        if group_instance_id is None:
            return False
        owner = self.static_members.get(group_instance_id)
        return owner is not None and owner != member_id

    def has_all_members_joined(self) -> bool:
        return all(m.awaiting_join for m in self.members.values()) and not self.pending_members

    def max_rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    # protocols -------------------------------------------------------------------------------
    def candidate_protocols(self) -> set[str]:
        members = list(self.members.values())
        if not members:
            return set()
        out = set(members[0].protocol_names())
        for m in members[1:]:
            out &= set(m.protocol_names())
        return out

    def supports(self, protocol_type: str, protocols: list[str]) -> bool:
        """Could a member with these protocols join (Kafka's supportsProtocols)?"""
        if not self.members:
            return bool(protocol_type) and bool(protocols)
        return self.protocol_type == protocol_type and bool(self.candidate_protocols() & set(protocols))

    def select_protocol(self) -> str:
        """Kafka's vote: each member votes for its first choice among the protocols all members
        support; most votes wins (ties: the earlier choice of the first member)."""
        candidates = self.candidate_protocols()
        votes: dict[str, int] = {}
        for m in self.members.values():
            choice = m.vote(candidates)
            votes[choice] = votes.get(choice, 0) + 1
        order = next(iter(self.members.values())).protocol_names()
        return max(votes, key=lambda p: (votes[p], -order.index(p)))

    def subscribed_topics(self) -> set[str] | None:
        """Every topic a member of a "consumer" group subscribes to (Kafka's
        getSubscribedTopics); None when a subscription does not decode."""
        topics: set[str] = set()
        try:
            for m in self.members.values():
                topics.update(decode_subscription(m.metadata(self.protocol_name)))
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            return None
        return topics

    # persistence -----------------------------------------------------------------------------
    def to_record(self) -> GroupMetadataValue:
        return GroupMetadataValue(
            protocol_type=self.protocol_type or "",
            generation=self.generation_id,
            protocol=self.protocol_name,
            leader=self.leader_id,
            current_state_timestamp=self.state_timestamp,
            members=[
                MemberMetadata(
                    m.member_id,
                    m.group_instance_id,
                    m.client_id,
                    m.client_host,
                    m.rebalance_timeout_ms,
                    m.session_timeout_ms,
                    m.metadata(self.protocol_name),
                    m.assignment,
                )
                for m in self.members.values()
            ],
        )
