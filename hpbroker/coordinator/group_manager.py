"""GroupMetadataManager: the groups of one __consumer_offsets partition and their rebalances
(Kafka's GroupMetadataManager, classic protocol; the offsets are OffsetMetadataManager's).

Theory of operation
-------------------
JoinGroup, SyncGroup, Heartbeat and LeaveGroup return ``(records, result)`` like every operation
of the shard (shard.py): the group metadata records to append and the response (a dict, or a
future for a parked JoinGroup/SyncGroup). Persisted group state -- each group's generation,
protocol, leader, members and their assignments, as its GroupMetadataValue says -- changes only
in ``replay``, after the runtime appended the record.

What records do not carry (parked requests, session timers, the rebalance in progress) lives in
``Group``/``Member`` and is changed by the operations directly. Timer callbacks (session expiry,
rebalance timeout, initial delay) write their records through ``self._write`` -- the same
append-then-replay path.

Where Kafka's classic coordinator only logs a failed store (the record of a group that became
Empty, written from a timer or a LeaveGroup), so does this manager (``write_or_warn``). The
leader's SyncGroup stores the generation's assignment *before* anyone is answered, as Kafka's
storeGroup callback does: if that fails, every member's SyncGroup answers NOT_COORDINATOR
(Kafka's mapping of a storage error), the assignment is void and the group rebalances.

Rebalance (the DelayedJoin of Kafka): a join from a new member, a leader join or a change of
metadata moves the group to PreparingRebalance. The join completes when every known member has a
JoinGroup parked (and no MEMBER_ID_REQUIRED id is outstanding), or when the longest rebalance
timeout runs out; members that did not rejoin are then removed. The first rebalance of an Empty
group waits ``group.initial.rebalance.delay.ms`` (extended while members keep arriving, up to
the rebalance timeout) so that consumers started together land in one generation.

Static membership (KIP-345, Kafka's classic rules): a member that joins with a group.instance.id
is static. A JoinGroup with that instance id and no member id is the same instance restarted:
it takes over the old member's place under a new member id, without a rebalance while the group
is Stable (``_replace_static_member``), and the old id is fenced: JoinGroup, SyncGroup,
Heartbeat, OffsetCommit and LeaveGroup naming the instance with another member id answer
FENCED_INSTANCE_ID. A static member that does not rejoin a rebalance is not dropped when the
join completes (dynamic ones are); only its session timeout or a LeaveGroup (admin tools name it
by instance id) removes it. The instance ids are in the group record, so they survive a restart.

Who may touch: the event loop of the process that owns the __consumer_offsets partition,
through its GroupCoordinatorShard.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from hpbroker.coordinator.config import CoordinatorConfig
from hpbroker.coordinator.group import Group, Member
from hpbroker.coordinator.records import GroupMetadataKey, GroupMetadataValue
from hpbroker.coordinator.state import GroupState
from hpbroker.protocol.errors import ErrorCode
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)

E, PR, CR, S, D = (
    GroupState.EMPTY,
    GroupState.PREPARING_REBALANCE,
    GroupState.COMPLETING_REBALANCE,
    GroupState.STABLE,
    GroupState.DEAD,
)


class GroupMetadataManager:
    def __init__(self, partition_index: int, config: CoordinatorConfig, write, call_later):
        self.partition_index = partition_index
        self.config = config
        self.groups: dict[str, Group] = {}
        self._group_records: dict[str, GroupMetadataValue] = {}  # the latest of each group's
        # write(records): append to the partition, then replay (the shard's runtime path); raises
        # OSError, with nothing replayed, when the append fails
        self._write = write
        self._call_later = call_later

    # -- replay: the one place persisted group state changes ------------------------------------
    def replay(self, key: GroupMetadataKey, value: GroupMetadataValue | None) -> None:
        if value is None:
            self._group_records.pop(key.group, None)
            group = self.groups.pop(key.group, None)
            if group is not None:
                self._unload(group)
            return
        self._group_records[key.group] = value
        self._apply_group_record(self.get_or_create(key.group), value)

    def get_or_create(self, group_id: str) -> Group:
        """The group, created Empty if there is none (a first join, a simple commit, offsets
        replayed for a group without metadata)."""
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = Group(group_id)
        return group

    def live_records(self) -> int:
        return len(self._group_records)

    def snapshot_records(self) -> list:
        """The latest metadata record of every group, [(key, value)]."""
        return [(GroupMetadataKey(g), v) for g, v in self._group_records.items()]

    def _apply_group_record(self, group: Group, value: GroupMetadataValue) -> None:
        """Make the group's persisted part equal the record: generation, protocol, leader, members
        and their assignments. For a live group this changes nothing (the record was just made
        from it); loading adds the members, a later record of the same group replaces them."""
        group.generation_id = value.generation
        group.protocol_type = value.protocol_type
        if value.current_state_timestamp >= 0:  # an Empty group's offsets expire from this
            group.state_timestamp = value.current_state_timestamp
        group.protocol_name = value.protocol
        in_record = {mm.member_id for mm in value.members}
        for m in [m for m in group.members.values() if m.member_id not in in_record]:
            self._drop_member(group, m, ErrorCode.UNKNOWN_MEMBER_ID)
        for mm in value.members:
            m = group.members.get(mm.member_id)
            if m is None:
                m = Member(
                    mm.member_id,
                    mm.group_instance_id,
                    mm.client_id,
                    mm.client_host,
                    mm.session_timeout,
                    mm.rebalance_timeout,
                    value.protocol_type,
                    [(value.protocol or "", mm.subscription)],
                )
                group.add(m)
                self._schedule_expiry(group, m)  # members that never come back expire as usual
            m.assignment = mm.assignment
        group.leader_id = value.leader if group.members else None
        # loading a generation's outcome, not a transition of a live group
        if group.is_(E) and group.members:
            group.state = S
        elif group.is_(S) and not group.members:
            group.state = E

    def _unload(self, group: Group) -> None:
        group.transition_to(D)
        self._cancel_timer(group, "join_timer")
        for t in group.pending_members.values():
            t.cancel()
        group.pending_members.clear()
        for m in list(group.members.values()):
            self._drop_member(group, m, ErrorCode.COORDINATOR_NOT_AVAILABLE)

    # -- helpers ----------------------------------------------------------------------------------
    def write_or_warn(self, records) -> bool:
        """Write records whose loss Kafka tolerates (an Empty group's metadata after a rebalance
        or a departure): a refused write is logged, the live group goes on. True if written."""
        try:
            self._write(records)
            return True
        except OSError as exc:
            warn_storage_failure(
                log,
                ("__consumer_offsets", self.partition_index),
                "cannot store group metadata in __consumer_offsets-%d: %s",
                self.partition_index,
                exc,
            )
            return False

    @staticmethod
    def _cancel_timer(obj, attr) -> None:
        t = getattr(obj, attr)
        if t is not None:
            t.cancel()
            setattr(obj, attr, None)

    def _schedule_expiry(self, group: Group, member: Member) -> None:
        """(Re)start the member's session: it expires after session.timeout.ms without a sign of
        life (Kafka's completeAndScheduleNextHeartbeatExpiration)."""
        self._cancel_timer(member, "heartbeat_timer")
        member.heartbeat_timer = self._call_later(
            member.session_timeout_ms / 1000.0, lambda: self._on_member_expired(group, member)
        )

    def _on_member_expired(self, group: Group, member: Member) -> None:
        member.heartbeat_timer = None
        if group.members.get(member.member_id) is not member:
            return
        if member.awaiting_join or member.awaiting_sync:  # a parked request is a sign of life
            return self._schedule_expiry(group, member)
        log.info(
            "member %s of group %s expired after session.timeout.ms %d",
            member.member_id,
            group.group_id,
            member.session_timeout_ms,
        )
        self.write_or_warn(self._remove_member_and_update(group, member))

    @staticmethod
    def _resolve(fut, value) -> None:
        if fut is not None and not fut.done():
            fut.set_result(value)

    def _drop_member(self, group: Group, member: Member, error: int) -> None:
        """Forget a member: stop its session and answer its parked requests with ``error``."""
        self._cancel_timer(member, "heartbeat_timer")
        self._resolve(member.join_future, self._join_error(member.member_id, error))
        self._resolve(member.sync_future, {"throttle_time_ms": 0, "error_code": error, "assignment": b""})
        group.remove(member.member_id)

    def _remove_member_and_update(self, group: Group, member: Member) -> list:
        self._drop_member(group, member, ErrorCode.UNKNOWN_MEMBER_ID)
        if group.is_(S) or group.is_(CR):
            return self._prepare_rebalance(group)
        if group.is_(PR):
            return self._try_complete_join(group)
        return []

    @staticmethod
    def _join_error(member_id: str, error: int) -> dict:
        return {
            "throttle_time_ms": 0,
            "error_code": error,
            "generation_id": -1,
            "protocol_type": None,
            "protocol_name": "",
            "leader": "",
            "member_id": member_id,
            "members": [],
        }

    def _join_response(self, group: Group, member: Member) -> dict:
        is_leader = member.member_id == group.leader_id
        return {
            "throttle_time_ms": 0,
            "error_code": 0,
            "generation_id": group.generation_id,
            "protocol_type": group.protocol_type,
            "protocol_name": group.protocol_name,
            "leader": group.leader_id,
            "member_id": member.member_id,
            "members": [
                {
                    "member_id": m.member_id,
                    "group_instance_id": m.group_instance_id,
                    "metadata": m.metadata(group.protocol_name),
                }
                for m in group.members.values()
            ]
            if is_leader
            else [],
        }

    def _group_record(self, group: Group) -> list:
        return [(GroupMetadataKey(group.group_id), group.to_record())]

    # -- rebalance --------------------------------------------------------------------------------
    def _prepare_rebalance(self, group: Group) -> list:
        if group.is_(CR):  # assignments of the aborted generation are void
            for m in group.members.values():
                m.assignment = b""
                self._resolve(
                    m.sync_future,
                    {"throttle_time_ms": 0, "error_code": ErrorCode.REBALANCE_IN_PROGRESS, "assignment": b""},
                )
        self._cancel_timer(group, "join_timer")
        if group.is_(E):
            delay = self.config.initial_rebalance_delay_ms
            group.initial_delay_remaining_ms = max(group.max_rebalance_timeout_ms() - delay, 0)
            group.new_member_added = False
            group.in_initial_delay = True
            group.transition_to(PR)
            group.join_timer = self._call_later(delay / 1000.0, lambda: self._on_initial_delay(group))
            return []
        group.transition_to(PR)
        group.join_timer = self._call_later(
            group.max_rebalance_timeout_ms() / 1000.0, lambda: self._on_join_timeout(group)
        )
        return self._try_complete_join(group)

    def _on_initial_delay(self, group: Group) -> None:
        group.join_timer = None
        if not group.is_(PR):
            return
        if group.new_member_added and group.initial_delay_remaining_ms > 0:
            # members keep arriving: wait once more, never past the rebalance timeout
            delay = min(self.config.initial_rebalance_delay_ms, group.initial_delay_remaining_ms)
            group.initial_delay_remaining_ms -= delay
            group.new_member_added = False
            group.join_timer = self._call_later(delay / 1000.0, lambda: self._on_initial_delay(group))
            return
        group.in_initial_delay = False
        self.write_or_warn(self._complete_join(group))

    def _on_join_timeout(self, group: Group) -> None:
        group.join_timer = None
        if group.is_(PR):
            self.write_or_warn(self._complete_join(group))

    def _try_complete_join(self, group: Group) -> list:
        # the initial delay is never cut short: its point is to wait for more members
        if group.is_(PR) and not group.in_initial_delay and group.has_all_members_joined():
            return self._complete_join(group)
        return []

    def _complete_join(self, group: Group) -> list:
        """Kafka's onCompleteJoin: drop the dynamic members who did not rejoin (a static member
        stays until its session expires: the leader assigns to it as if it had rejoined), elect
        a leader among those who did, start the next generation."""
        self._cancel_timer(group, "join_timer")
        group.in_initial_delay = False
        for m in list(group.members.values()):
            if not m.awaiting_join and m.group_instance_id is None:
                log.info("member %s of group %s did not rejoin in time; removed", m.member_id, group.group_id)
                self._drop_member(group, m, ErrorCode.UNKNOWN_MEMBER_ID)
        joined = [m.member_id for m in group.members.values() if m.awaiting_join]
        if group.members and not joined:
            # only static members are left and none came back: wait again, until they do or
            # their sessions expire (Kafka's maybeElectNewJoinedLeader failing)
            log.info("no member of group %s rejoined; waiting for them again", group.group_id)
            group.join_timer = self._call_later(
                group.max_rebalance_timeout_ms() / 1000.0, lambda: self._on_join_timeout(group)
            )
            return []
        group.generation_id += 1
        if not group.members:
            group.protocol_name = None
            group.leader_id = None
            group.transition_to(E)
            return self._group_record(group)
        group.protocol_name = group.select_protocol()
        if group.leader_id not in joined:
            group.leader_id = joined[0]
        group.transition_to(CR)
        for m in group.members.values():
            m.is_new = False
            fut, m.join_future = m.join_future, None
            self._resolve(fut, self._join_response(group, m))
            self._schedule_expiry(group, m)
        return []

    # -- JoinGroup ---------------------------------------------------------------------------------
    def join_group(self, request: dict, version: int, client_id: str, client_host: str):
        group_id = request["group_id"]
        member_id = request["member_id"] or ""
        instance_id = request.get("group_instance_id")
        session_ms = request["session_timeout_ms"]
        rebalance_ms = request.get("rebalance_timeout_ms", -1)
        if version == 0 or rebalance_ms is None or rebalance_ms < 0:
            rebalance_ms = session_ms
        protocols = [(p["name"], bytes(p["metadata"] or b"")) for p in request["protocols"]]
        protocol_type = request["protocol_type"]

        def fail(code):
            return [], self._join_error(member_id, code)

        if not group_id:
            return fail(ErrorCode.INVALID_GROUP_ID)
        if not self.config.min_session_timeout_ms <= session_ms <= self.config.max_session_timeout_ms:
            return fail(ErrorCode.INVALID_SESSION_TIMEOUT)
        group = self.groups.get(group_id)
        if group is None:
            if member_id:
                return fail(ErrorCode.UNKNOWN_MEMBER_ID)
            group = self.groups[group_id] = Group(group_id)
        if group.is_(D):
            return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        if not group.supports(protocol_type, [n for n, _ in protocols]):
            return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        if not self._accepts_joining(group, member_id):
            return fail(ErrorCode.GROUP_MAX_SIZE_REACHED)

        joining = Member(
            member_id, instance_id, client_id, client_host, session_ms, rebalance_ms, protocol_type, protocols
        )
        if not member_id:  # Kafka's doUnknownJoinGroup
            joining.member_id = f"{instance_id if instance_id is not None else client_id}-{uuid.uuid4()}"
            if instance_id is not None and instance_id in group.static_members:
                return self._replace_static_member(group, joining)
            if version >= 4 and instance_id is None:
                # KIP-394: hand out an id first; the client rejoins with it at once
                new_id = joining.member_id
                group.pending_members[new_id] = self._call_later(
                    session_ms / 1000.0, lambda: self._on_pending_expired(group, new_id)
                )
                return [], self._join_error(new_id, ErrorCode.MEMBER_ID_REQUIRED)
            return self._add_member_and_rebalance(group, joining)

        # Kafka's doJoinGroup: a known member id
        if instance_id is None and member_id in group.pending_members and member_id not in group.members:
            t = group.pending_members.pop(member_id)
            if t is not None:
                t.cancel()
            return self._add_member_and_rebalance(group, joining)
        if group.is_static_member_fenced(member_id, instance_id):
            return fail(ErrorCode.FENCED_INSTANCE_ID)  # another instance took this id over
        member = group.members.get(member_id)
        if member is None or (instance_id is not None and instance_id not in group.static_members):
            return fail(ErrorCode.UNKNOWN_MEMBER_ID)
        if group.is_(PR):
            return self._update_member_and_rebalance(group, member, protocols, session_ms, rebalance_ms)
        if group.is_(CR):
            if member.matches(protocols):  # a retry of a join whose answer was lost
                self._schedule_expiry(group, member)
                return [], self._join_response(group, member)
            return self._update_member_and_rebalance(group, member, protocols, session_ms, rebalance_ms)
        if group.is_(S):
            if member.member_id == group.leader_id or not member.matches(protocols):
                return self._update_member_and_rebalance(group, member, protocols, session_ms, rebalance_ms)
            self._schedule_expiry(group, member)
            return [], self._join_response(group, member)
        return fail(ErrorCode.UNKNOWN_MEMBER_ID)  # Empty/Dead know no members

    def _add_member_and_rebalance(self, group: Group, member: Member):
        """A new member (dynamic, or static with an instance id the group does not know)."""
        member.is_new = True
        fut = member.join_future = asyncio.get_running_loop().create_future()
        group.add(member)
        if group.is_(PR) and group.generation_id == 0:
            group.new_member_added = True
        self._schedule_expiry(group, member)
        return self._maybe_prepare_rebalance(group), fut

    def _replace_static_member(self, group: Group, joining: Member):
        """Kafka's updateStaticMemberAndRebalance (KIP-345): a static member came back as a new
        instance (a restart) before its session expired. It takes over the old member's place
        under a new member id; the old id is fenced (a still running old instance gets
        FENCED_INSTANCE_ID from then on). In a Stable group whose chosen protocol stays the
        same there is no rebalance: the group record is stored with the new id and the
        instance gets the current generation back, with the old leader id so that it never
        assigns (and then SyncGroup hands it the previous member's assignment). Otherwise the
        group rebalances (CompletingRebalance: the leader may be assigning to the old id)."""
        old_id = group.static_members[joining.group_instance_id]
        old = group.members[old_id]
        self._resolve(old.join_future, self._join_error(old_id, ErrorCode.FENCED_INSTANCE_ID))
        self._resolve(
            old.sync_future, {"throttle_time_ms": 0, "error_code": ErrorCode.FENCED_INSTANCE_ID, "assignment": b""}
        )
        old.join_future = old.sync_future = None
        previous = (old.client_id, old.client_host, old.session_timeout_ms, old.rebalance_timeout_ms, old.protocols)
        current_leader = group.leader_id
        member = group.replace_member_id(old_id, joining.member_id)
        # the new instance's own settings (a restart may have changed them)
        member.client_id, member.client_host = joining.client_id, joining.client_host
        member.session_timeout_ms = joining.session_timeout_ms
        member.rebalance_timeout_ms = joining.rebalance_timeout_ms
        member.protocols = joining.protocols
        self._schedule_expiry(group, member)
        log.info(
            "static member %s of group %s rejoined as %s (was %s)",
            member.group_instance_id,
            group.group_id,
            member.member_id,
            old_id,
        )
        if group.is_(S) and group.protocol_name == group.select_protocol():
            try:
                self._write(self._group_record(group))  # the new id is stored before it is answered
            except OSError as exc:
                warn_storage_failure(
                    log,
                    ("__consumer_offsets", self.partition_index),
                    "cannot store the rejoin of static member %r of group %r in __consumer_offsets-%d: %s",
                    member.group_instance_id,
                    group.group_id,
                    self.partition_index,
                    exc,
                )
                group.replace_member_id(member.member_id, old_id)  # the old instance keeps its place
                (
                    member.client_id,
                    member.client_host,
                    member.session_timeout_ms,
                    member.rebalance_timeout_ms,
                    member.protocols,
                ) = previous
                self._schedule_expiry(group, member)
                return [], self._join_error("", ErrorCode.NOT_COORDINATOR)
            response = self._join_response(group, member)
            response["leader"] = current_leader
            response["members"] = []
            return [], response
        fut = member.join_future = asyncio.get_running_loop().create_future()
        if group.is_(PR):
            return self._try_complete_join(group), fut
        return self._prepare_rebalance(group), fut

    def _accepts_joining(self, group: Group, member_id: str) -> bool:
        """group.max.size, as Kafka's acceptJoiningMember: an Empty group takes anyone; while
        it rebalances, a member already waiting in JoinGroup, or anyone while fewer than the
        limit wait (so lowering the limit drops the last to rejoin); otherwise a member, or
        anyone while the group is below the limit."""
        limit = self.config.group_max_size
        if group.is_(E):
            return True
        member = group.members.get(member_id)
        if group.is_(PR):
            waiting = sum(1 for m in group.members.values() if m.awaiting_join)
            return (member is not None and member.awaiting_join) or waiting < limit
        return member is not None or len(group.members) < limit

    def _on_pending_expired(self, group: Group, member_id: str) -> None:
        if group.pending_members.pop(member_id, None) is not None and group.is_(PR):
            self.write_or_warn(self._try_complete_join(group))

    def _maybe_prepare_rebalance(self, group: Group) -> list:
        if group.is_(S) or group.is_(CR) or group.is_(E):
            return self._prepare_rebalance(group)
        return self._try_complete_join(group)

    def _update_member_and_rebalance(self, group, member, protocols, session_ms, rebalance_ms):
        member.protocols = protocols
        member.session_timeout_ms = session_ms
        member.rebalance_timeout_ms = rebalance_ms
        self._resolve(member.join_future, self._join_error(member.member_id, ErrorCode.REBALANCE_IN_PROGRESS))
        member.join_future = asyncio.get_running_loop().create_future()
        self._schedule_expiry(group, member)
        fut = member.join_future
        return self._maybe_prepare_rebalance(group), fut

    # -- SyncGroup ---------------------------------------------------------------------------------
    def sync_group(self, request: dict):
        group = self.groups.get(request["group_id"])
        member_id = request["member_id"]

        def answer(code, assignment=b""):
            return [], {
                "throttle_time_ms": 0,
                "error_code": code,
                "assignment": assignment,
                "protocol_type": group.protocol_type if group else None,
                "protocol_name": group.protocol_name if group else None,
            }

        if not request["group_id"]:
            return answer(ErrorCode.INVALID_GROUP_ID)
        if group is None or group.is_(D):
            return answer(ErrorCode.UNKNOWN_MEMBER_ID if group is None else ErrorCode.COORDINATOR_NOT_AVAILABLE)
        if group.is_static_member_fenced(member_id, request.get("group_instance_id")):
            return answer(ErrorCode.FENCED_INSTANCE_ID)
        member = group.members.get(member_id)
        if member is None:
            return answer(ErrorCode.UNKNOWN_MEMBER_ID)
        if request["generation_id"] != group.generation_id:
            return answer(ErrorCode.ILLEGAL_GENERATION)
        if group.is_(E):
            return answer(ErrorCode.UNKNOWN_MEMBER_ID)
        if group.is_(PR):
            return answer(ErrorCode.REBALANCE_IN_PROGRESS)
        self._schedule_expiry(group, member)
        if group.is_(S):
            return answer(0, member.assignment)
        # CompletingRebalance: park until the leader brings the assignment
        self._resolve(
            member.sync_future,
            {"throttle_time_ms": 0, "error_code": ErrorCode.REBALANCE_IN_PROGRESS, "assignment": b""},
        )
        member.sync_future = asyncio.get_running_loop().create_future()
        fut = member.sync_future
        if member_id != group.leader_id:
            return [], fut
        assignments = {a["member_id"]: bytes(a["assignment"] or b"") for a in request["assignments"]}
        for m in group.members.values():
            m.assignment = assignments.get(m.member_id, b"")  # members the leader left out get nothing
        try:
            self._write(self._group_record(group))  # stored before anyone is answered
        except OSError as exc:
            warn_storage_failure(
                log,
                ("__consumer_offsets", self.partition_index),
                "cannot store the assignment of group %r in __consumer_offsets-%d: %s",
                group.group_id,
                self.partition_index,
                exc,
            )
            self._assignment_failed(group, ErrorCode.NOT_COORDINATOR)
            return answer(ErrorCode.NOT_COORDINATOR)
        group.transition_to(S)
        for m in group.members.values():
            sf, m.sync_future = m.sync_future, None
            self._resolve(
                sf,
                {
                    "throttle_time_ms": 0,
                    "error_code": 0,
                    "assignment": m.assignment,
                    "protocol_type": group.protocol_type,
                    "protocol_name": group.protocol_name,
                },
            )
        return [], fut

    def _assignment_failed(self, group: Group, error: int) -> None:
        """Kafka's resetAndPropagateAssignmentError + maybePrepareRebalance: the assignment that
        could not be stored is void, every parked SyncGroup gets ``error``, and the group
        rebalances (members rejoin once they have found their coordinator again)."""
        for m in group.members.values():
            m.assignment = b""
            sf, m.sync_future = m.sync_future, None
            self._resolve(
                sf,
                {
                    "throttle_time_ms": 0,
                    "error_code": error,
                    "assignment": b"",
                    "protocol_type": group.protocol_type,
                    "protocol_name": group.protocol_name,
                },
            )
        self.write_or_warn(self._prepare_rebalance(group))

    # -- Heartbeat / LeaveGroup ------------------------------------------------------------------
    def heartbeat(self, request: dict) -> tuple[list, dict]:
        group = self.groups.get(request["group_id"])

        def answer(code):
            return [], {"throttle_time_ms": 0, "error_code": code}

        if not request["group_id"]:
            return answer(ErrorCode.INVALID_GROUP_ID)
        if group is None or group.is_(E):
            return answer(ErrorCode.UNKNOWN_MEMBER_ID)
        if group.is_(D):
            return answer(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        if group.is_static_member_fenced(request["member_id"], request.get("group_instance_id")):
            return answer(ErrorCode.FENCED_INSTANCE_ID)
        member = group.members.get(request["member_id"])
        if member is None:
            return answer(ErrorCode.UNKNOWN_MEMBER_ID)
        if request["generation_id"] != group.generation_id:
            return answer(ErrorCode.ILLEGAL_GENERATION)
        self._schedule_expiry(group, member)
        if group.is_(PR):
            return answer(ErrorCode.REBALANCE_IN_PROGRESS)
        return answer(0)

    def leave_group(self, group_id: str, leaving: list[tuple[str, str | None]]) -> tuple[list, int, list[int]]:
        """Remove (member_id, group_instance_id) pairs; returns (records, top-level error, per-member
        errors). As Kafka's handleLeaveGroup: a static member is named by its instance id (admin
        tools send an empty member id); a member id that is not the instance's current one is
        fenced; a pending (MEMBER_ID_REQUIRED) id leaves without a rebalance of its own."""
        group = self.groups.get(group_id)
        if not group_id:
            return [], ErrorCode.INVALID_GROUP_ID, []
        if group is None:  # as Kafka: no top-level error, every member unknown
            return [], 0, [ErrorCode.UNKNOWN_MEMBER_ID] * len(leaving)
        if group.is_(D):
            return [], ErrorCode.COORDINATOR_NOT_AVAILABLE, []
        records, errors = [], []
        for member_id, instance_id in leaving:
            if member_id and group.is_static_member_fenced(member_id, instance_id):
                errors.append(ErrorCode.FENCED_INSTANCE_ID)
                continue
            if instance_id is None and member_id in group.pending_members and member_id not in group.members:
                t = group.pending_members.pop(member_id)
                if t is not None:
                    t.cancel()
                errors.append(0)
                records += self._try_complete_join(group) if group.is_(PR) else []
                continue
            if instance_id is not None and instance_id in group.static_members:
                member_id = group.static_members[instance_id]
            member = group.members.get(member_id)
            if member is None:
                errors.append(ErrorCode.UNKNOWN_MEMBER_ID)
                continue
            log.info(
                "member %s (group.instance.id %s) of group %s left",
                member.member_id,
                member.group_instance_id,
                group.group_id,
            )
            errors.append(0)
            records += self._remove_member_and_update(group, member)
        return records, 0, errors

    # -- offsets' questions -----------------------------------------------------------------------
    def validate_offset_commit(
        self, group_id: str, member_id: str, generation: int, group_instance_id: str | None = None
    ) -> int:
        """May this OffsetCommit go ahead (Kafka's doCommitOffsets)? 0, or the error for every
        partition of it: a replaced static instance is fenced (v7+ names the instance); a simple
        commit (generation -1) needs an Empty or absent group; otherwise member and generation
        must match, and not while CompletingRebalance. A member's accepted commit is a sign of
        life: its session restarts."""
        group = self.groups.get(group_id)
        if group is None:
            return ErrorCode.ILLEGAL_GENERATION if generation >= 0 else 0
        if group.is_(D):
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        if group.is_static_member_fenced(member_id, group_instance_id):
            return ErrorCode.FENCED_INSTANCE_ID
        if generation < 0 and group.is_(E):
            return 0  # a simple commit (no membership) on an Empty group
        if group.is_(CR):
            return ErrorCode.REBALANCE_IN_PROGRESS
        member = group.members.get(member_id)
        if member is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if generation != group.generation_id:
            return ErrorCode.ILLEGAL_GENERATION
        self._schedule_expiry(group, member)
        return 0

    def deletion_record(self, group_id: str) -> list:
        """The tombstone of an Empty group whose last offsets are going (Kafka's
        cleanupGroupMetadata: such a group is deleted with them), else nothing."""
        group = self.groups.get(group_id)
        if group is not None and group.is_(E):
            return [(GroupMetadataKey(group_id), None)]
        return []

    # -- admin -------------------------------------------------------------------------------------
    def list_groups(self) -> list[Group]:
        return [g for g in self.groups.values() if not g.is_(D)]

    def validate_delete_group(self, group_id: str) -> int:
        """DeleteGroups: 0 if the group may be deleted (it is Empty), else the error."""
        group = self.groups.get(group_id)
        if not group_id:
            return ErrorCode.INVALID_GROUP_ID
        if group is None or group.is_(D):
            return ErrorCode.GROUP_ID_NOT_FOUND
        if not group.is_(E):
            return ErrorCode.NON_EMPTY_GROUP
        return 0
