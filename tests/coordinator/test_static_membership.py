"""Static membership (KIP-345) in the group manager, step by step: a member with a
group.instance.id that comes back as a new instance takes over its old place without a
rebalance; the old instance is fenced; static members that do not rejoin stay until their
session expires; LeaveGroup names them by instance id; the group record keeps the instance ids."""

import asyncio

from hpbroker.coordinator.records import GroupMetadataKey
from hpbroker.coordinator.shard import GroupCoordinatorShard
from hpbroker.coordinator.state import GroupState
from hpbroker.protocol.errors import ErrorCode

from .fakes import FakeTimers
from .test_shard import CONFIG, Harness, run
from .test_store_failures import FullDiskHarness

E, PR, CR, S = (GroupState.EMPTY, GroupState.PREPARING_REBALANCE, GroupState.COMPLETING_REBALANCE, GroupState.STABLE)


def _heartbeat(h, member_id, generation, instance):
    return h.run(
        h.shard.heartbeat(
            {"group_id": "g", "member_id": member_id, "generation_id": generation, "group_instance_id": instance}
        )
    )["error_code"]


def _sync(h, member_id, generation, instance, assignments=()):
    return h.run(
        h.shard.sync_group(
            {
                "group_id": "g",
                "member_id": member_id,
                "generation_id": generation,
                "group_instance_id": instance,
                "assignments": [{"member_id": m, "assignment": a} for m, a in assignments],
            }
        )
    )


async def _two_static_members(h):
    """i-1 and i-2 join (i-1 leads), the leader assigns A and B: Stable, generation 1."""
    f1 = h.join(instance="i-1")
    f2 = h.join(instance="i-2")
    h.timers.advance(0.2)
    m1, m2 = f1.result()["member_id"], f2.result()["member_id"]
    assert f1.result()["leader"] == m1 and m1.startswith("i-1-") and m2.startswith("i-2-")
    follower = _sync(h, m2, 1, "i-2")
    await _sync(h, m1, 1, "i-1", [(m1, b"A"), (m2, b"B")])
    assert follower.result()["assignment"] == b"B" and h.group.state is S
    return m1, m2


def test_a_restarted_static_member_gets_its_place_back_without_a_rebalance():
    async def main():
        h = Harness()
        m1, m2 = await _two_static_members(h)
        logged = len(h.log)
        r = h.join(instance="i-1")  # the same instance id, no member id: a restart
        assert isinstance(r, dict) and r["error_code"] == 0
        new = r["member_id"]
        assert new != m1 and new.startswith("i-1-")
        # the current generation, and the old leader id: the new instance does not assign
        assert r["generation_id"] == 1 and r["leader"] == m1 and r["members"] == []
        assert h.group.state is S and h.group.generation_id == 1
        assert list(h.group.members) == [new, m2] and h.group.leader_id == new
        # stored before it was answered: the record names the new id with the old assignment
        assert [k for k, _ in h.log[logged:]] == [GroupMetadataKey("g")]
        stored = {mm.member_id: (mm.group_instance_id, mm.assignment) for mm in h.log[-1][1].members}
        assert stored == {new: ("i-1", b"A"), m2: ("i-2", b"B")}
        assert _sync(h, new, 1, "i-1")["assignment"] == b"A"
        assert _heartbeat(h, m2, 1, "i-2") == 0  # the other member sees no rebalance

    run(main())


def test_the_replaced_instance_is_fenced_everywhere():
    async def main():
        h = Harness()
        m1, m2 = await _two_static_members(h)
        new = h.join(instance="i-1")["member_id"]
        assert _heartbeat(h, m1, 1, "i-1") == ErrorCode.FENCED_INSTANCE_ID
        assert _sync(h, m1, 1, "i-1")["error_code"] == ErrorCode.FENCED_INSTANCE_ID
        assert h.join(member_id=m1, instance="i-1")["error_code"] == ErrorCode.FENCED_INSTANCE_ID
        assert h.commit(generation=1, member_id=m1, offsets=[("t", 0, 5)]) == {("t", 0): ErrorCode.UNKNOWN_MEMBER_ID}
        req = {
            "group_id": "g",
            "generation_id_or_member_epoch": 1,
            "member_id": m1,
            "group_instance_id": "i-1",
            "topics": [{"name": "t", "partitions": [{"partition_index": 0, "committed_offset": 5}]}],
        }
        assert h.run(h.shard.commit_offsets(req, lambda t, p: True)) == {("t", 0): ErrorCode.FENCED_INSTANCE_ID}
        assert h.run(h.shard.commit_offsets({**req, "member_id": new}, lambda t, p: True)) == {("t", 0): 0}
        # a static member naming an instance id the group does not know is unknown
        assert h.join(member_id=m2, instance="i-9")["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
        assert h.group.state is S and h.group.generation_id == 1

    run(main())


def test_a_parked_request_of_the_old_instance_is_answered_fenced():
    async def main():
        h = Harness()
        m1, m2 = await _two_static_members(h)
        rejoin = h.join(member_id=m1, instance="i-1")  # the leader rejoins: a rebalance starts
        assert isinstance(rejoin, asyncio.Future) and h.group.state is PR
        r = h.join(instance="i-1")  # and is replaced while its JoinGroup is parked
        assert rejoin.done() and rejoin.result()["error_code"] == ErrorCode.FENCED_INSTANCE_ID
        assert isinstance(r, asyncio.Future)  # the new instance takes part in the rebalance
        assert h.join(member_id=m2, instance="i-2").done()  # the other rejoins: the join completes
        assert r.result()["error_code"] == 0 and r.result()["generation_id"] == 2
        assert r.result()["leader"] == r.result()["member_id"]  # it kept the leadership

    run(main())


def test_a_changed_protocol_or_a_rebalance_in_progress_means_a_rebalance():
    async def main():
        h = Harness()
        await _two_static_members(h)
        r = h.join(instance="i-1", protocols=["roundrobin", "range"])
        # range is still what the vote picks (i-2 only has range): no rebalance
        assert isinstance(r, dict) and h.group.state is S

        h2 = Harness()
        f1 = h2.join(instance="i-1")
        h2.timers.advance(0.2)
        assert f1.result()["error_code"] == 0 and h2.group.state is CR
        r = h2.join(instance="i-1")  # CompletingRebalance: the leader may assign to the old id
        assert isinstance(r, asyncio.Future) and r.done() and r.result()["generation_id"] == 2
        assert h2.group.state is CR

    run(main())


def test_a_rejoin_that_cannot_be_stored_leaves_the_old_instance_in_place():
    async def main():
        h = FullDiskHarness()
        m1, m2 = await _two_static_members(h)
        h.full = True
        r = h.join(instance="i-1")
        assert r["error_code"] == ErrorCode.NOT_COORDINATOR and r["member_id"] == ""
        assert list(h.group.members) == [m1, m2] and h.group.static_members["i-1"] == m1
        assert h.group.leader_id == m1 and h.group.state is S
        assert _heartbeat(h, m1, 1, "i-1") == 0

    run(main())


def test_static_members_that_do_not_rejoin_stay_until_their_session_expires():
    async def main():
        h = Harness()
        m1, m2 = await _two_static_members(h)
        f3 = h.join(instance="i-3")  # a new member: a rebalance; i-1 (the leader) stays away
        f2 = h.join(member_id=m2, instance="i-2")
        h.timers.advance(5.0)  # the rebalance timeout: the join completes without i-1 ...
        assert f2.done() and f3.done()
        assert m1 in h.group.members and h.group.state is CR and h.group.generation_id == 2
        # ... which stays a member (the leader assigns to it), and is no longer the leader
        assert h.group.leader_id == m2 and len(f2.result()["members"]) == 3
        m3 = f3.result()["member_id"]
        h.timers.advance(5.0)  # the join's completion restarted every session, i-1's too
        assert _heartbeat(h, m2, 2, "i-2") == _heartbeat(h, m3, 2, "i-3") == 0
        assert m1 in h.group.members
        h.timers.advance(5.0)  # i-1's session expires: it is removed and the group rebalances
        assert m1 not in h.group.members and "i-1" not in h.group.static_members
        assert h.group.state is PR and set(h.group.members) == {m2, m3}

    run(main())


def test_a_join_nobody_came_back_to_waits_for_the_sessions():
    async def main():
        h = Harness()
        m1, m2 = await _two_static_members(h)
        h.timers.advance(3.0)
        assert _heartbeat(h, m2, 1, "i-2") == 0
        leave, _, _ = h.shard.leave_group("g", [(m2, "i-2")])  # i-2 leaves: i-1 must rejoin
        h.write(leave)
        assert h.group.state is PR
        h.timers.advance(5.0)  # the rebalance timeout passes with no member rejoined
        assert h.group.state is PR and h.group.generation_id == 1 and m1 in h.group.members
        h.timers.advance(5.0)  # i-1's session expires: the join completes with nobody -> Empty
        assert h.group.state is E and not h.group.members

    run(main())


def test_leave_group_names_static_members_by_instance_id():
    async def main():
        h = Harness()
        m1, m2 = await _two_static_members(h)
        new = h.join(instance="i-1")["member_id"]
        records, error, errors = h.shard.leave_group("g", [("", "i-9"), (m1, "i-1"), ("", "i-1")])
        assert error == 0 and errors == [ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_INSTANCE_ID, 0]
        h.write(records)
        assert new not in h.group.members and "i-1" not in h.group.static_members
        assert h.group.state is PR  # the group rebalances without it

    run(main())


def test_the_group_record_keeps_the_instance_ids():
    async def main():
        h = Harness()
        m1, m2 = await _two_static_members(h)
        new = h.join(instance="i-1")["member_id"]
        loaded = GroupCoordinatorShard(0, CONFIG, call_later=FakeTimers().call_later)
        for k, v in h.log:
            loaded.replay(k, v)
        group = loaded.groups["g"]
        assert group.static_members == {"i-1": new, "i-2": m2} and group.state is S
        assert group.is_static_member_fenced(m1, "i-1") and not group.is_static_member_fenced(new, "i-1")

    run(main())
