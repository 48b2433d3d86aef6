"""A __consumer_offsets that refuses writes (a full disk): what each group operation answers and
what it leaves behind. As Kafka: the leader's SyncGroup stores the assignment before anyone is
answered, and a refused store answers every member NOT_COORDINATOR and rebalances the group; the
metadata of a group that became Empty is only logged when it cannot be stored."""

import asyncio

from hpbroker.coordinator.records import GroupMetadataKey
from hpbroker.coordinator.state import GroupState
from hpbroker.protocol.errors import ErrorCode

from .test_shard import Harness, _two_members, run

PR, S, E = GroupState.PREPARING_REBALANCE, GroupState.STABLE, GroupState.EMPTY


class FullDiskHarness(Harness):
    def __init__(self):
        super().__init__()
        self.full = False

    def write(self, records):
        if records and self.full:
            raise OSError(28, "No space left on device")
        super().write(records)


def test_leader_sync_that_cannot_be_stored_answers_not_coordinator_and_rebalances():
    async def main():
        h = FullDiskHarness()
        r1, r2 = await _two_members(h)
        follower = h.sync(r2["member_id"], 1)
        assert isinstance(follower, asyncio.Future) and not follower.done()
        h.full = True
        leader = h.sync(r1["member_id"], 1, [(r1["member_id"], b"A"), (r2["member_id"], b"B")])
        assert leader["error_code"] == ErrorCode.NOT_COORDINATOR and leader["assignment"] == b""
        assert follower.done() and follower.result()["error_code"] == ErrorCode.NOT_COORDINATOR
        assert follower.result()["assignment"] == b""
        assert h.log == []  # nothing stored, nothing replayed
        assert h.group.state is PR  # the generation's assignment is void: everyone rejoins
        assert all(m.assignment == b"" for m in h.group.members.values())
        assert h.heartbeat(r1["member_id"], 1) == ErrorCode.REBALANCE_IN_PROGRESS

        h.full = False  # space is back: both rejoin, the next generation is stored and served
        f1 = h.join(member_id=r1["member_id"])
        f2 = h.join(member_id=r2["member_id"])
        j1, j2 = f1.result(), f2.result()
        assert j1["generation_id"] == j2["generation_id"] == 2
        leader_id = j1["leader"]
        other = r2["member_id"] if leader_id == r1["member_id"] else r1["member_id"]
        parked = h.sync(other, 2)
        done = await h.sync(leader_id, 2, [(leader_id, b"A2"), (other, b"B2")])
        assert done["error_code"] == 0 and done["assignment"] == b"A2"
        assert parked.result()["assignment"] == b"B2"
        assert h.group.state is S
        assert [k for k, _ in h.log] == [GroupMetadataKey("g")] and h.log[0][1].generation == 2

    run(main())


def test_a_group_left_empty_on_a_full_disk_goes_on_in_memory():
    async def main():
        h = FullDiskHarness()
        r1, r2 = await _two_members(h)
        await h.sync(r1["member_id"], 1, [(r1["member_id"], b"A"), (r2["member_id"], b"B")])
        h.full = True
        records, error, errors = h.shard.leave_group("g", [(r1["member_id"], None), (r2["member_id"], None)])
        assert error == 0 and errors == [0, 0]
        assert h.shard.write_or_warn(records) is False  # logged, not raised
        # the rebalance completed with nobody: Empty at generation 2, whose record was refused
        assert h.group.state is E and not h.group.members and h.group.generation_id == 2
        assert len(h.log) == 1 and h.log[0][1].generation == 1
        h.full = False
        fut = h.join_new()  # the group is served as usual
        h.timers.advance(1)
        assert fut.result()["error_code"] == 0 and fut.result()["generation_id"] == 3

    run(main())


def test_delete_group_decides_nothing_before_its_tombstones_are_stored():
    async def main():
        h = FullDiskHarness()
        h.commit(offsets=(("t", 0, 5),))
        records, error = h.shard.delete_group("g")
        assert error == 0 and records
        h.full = True
        try:
            h.write(records)
        except OSError:
            pass
        assert "g" in h.shard.groups and h.shard.fetch_offsets("g", [("t", [0])])  # still there

    run(main())
