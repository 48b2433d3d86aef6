"""GroupCoordinatorShard: the classic protocol step by step, with a hand-driven clock."""

import asyncio

from hpbroker.coordinator.records import GroupMetadataKey, OffsetCommitKey
from hpbroker.coordinator.shard import CoordinatorConfig, GroupCoordinatorShard
from hpbroker.coordinator.state import GroupState
from hpbroker.protocol.errors import ErrorCode

from .fakes import FakeTimers

E, PR, CR, S, D = (
    GroupState.EMPTY,
    GroupState.PREPARING_REBALANCE,
    GroupState.COMPLETING_REBALANCE,
    GroupState.STABLE,
    GroupState.DEAD,
)
CONFIG = CoordinatorConfig(initial_rebalance_delay_ms=100, min_session_timeout_ms=1000, max_session_timeout_ms=60000)


class Harness:
    """A shard whose writes are kept (the 'log') and replayed, as the runtime does."""

    def __init__(self):
        self.timers = FakeTimers()
        self.log = []
        self.shard = GroupCoordinatorShard(0, CONFIG, write=self.write, call_later=self.timers.call_later)

    def write(self, records):
        self.log.extend(records)
        for k, v in records:
            self.shard.replay(k, v)

    def run(self, pair):
        records, result = pair
        self.write(records)
        return result

    def join(
        self,
        group="g",
        member_id="",
        version=5,
        session=10000,
        rebalance=5000,
        protocols=None,
        instance=None,
        ptype="consumer",
    ):
        req = {
            "group_id": group,
            "member_id": member_id,
            "session_timeout_ms": session,
            "rebalance_timeout_ms": rebalance,
            "group_instance_id": instance,
            "protocol_type": ptype,
            "protocols": [{"name": n, "metadata": b"m-" + n.encode()} for n in (protocols or ["range"])],
        }
        return self.run(self.shard.join_group(req, version, "client", "/127.0.0.1"))

    def join_new(self, **kw):
        """The v4+ two-step join: MEMBER_ID_REQUIRED, then the real join with that id."""
        first = self.join(**kw)
        assert first["error_code"] == ErrorCode.MEMBER_ID_REQUIRED
        return self.join(member_id=first["member_id"], **kw)

    def sync(self, member_id, generation, assignments=(), group="g"):
        req = {
            "group_id": group,
            "member_id": member_id,
            "generation_id": generation,
            "assignments": [{"member_id": m, "assignment": a} for m, a in assignments],
        }
        return self.run(self.shard.sync_group(req))

    def heartbeat(self, member_id, generation, group="g"):
        return self.run(self.shard.heartbeat({"group_id": group, "member_id": member_id, "generation_id": generation}))[
            "error_code"
        ]

    def commit(self, group="g", generation=-1, member_id="", offsets=(("t", 0, 5),), metadata=""):
        topics = {}
        for t, p, o in offsets:
            topics.setdefault(t, []).append(
                {
                    "partition_index": p,
                    "committed_offset": o,
                    "committed_leader_epoch": 0,
                    "committed_metadata": metadata,
                }
            )
        req = {
            "group_id": group,
            "generation_id_or_member_epoch": generation,
            "member_id": member_id,
            "topics": [{"name": t, "partitions": ps} for t, ps in topics.items()],
        }
        return self.run(self.shard.commit_offsets(req, lambda t, p: t == "t" and p < 4))

    @property
    def group(self):
        return self.shard.groups["g"]


def run(coro):
    return asyncio.run(coro)


async def _two_members(h):
    f1 = h.join_new()
    f2 = h.join_new()
    assert isinstance(f1, asyncio.Future) and isinstance(f2, asyncio.Future)
    assert h.group.state is PR
    h.timers.advance(0.05)
    assert not f1.done()  # the initial delay is not cut short
    h.timers.advance(0.2)
    r1, r2 = f1.result(), f2.result()
    return r1, r2


def test_join_sync_to_stable_with_one_persisted_record():
    async def main():
        h = Harness()
        r1, r2 = await _two_members(h)
        assert r1["error_code"] == r2["error_code"] == 0
        assert r1["generation_id"] == r2["generation_id"] == 1
        assert r1["leader"] == r2["leader"] == r1["member_id"]
        assert r1["protocol_name"] == "range"
        assert {m["member_id"] for m in r1["members"]} == {r1["member_id"], r2["member_id"]}
        assert r2["members"] == []  # followers get no member list
        assert h.group.state is CR
        follower = h.sync(r2["member_id"], 1)
        assert isinstance(follower, asyncio.Future) and not follower.done()
        leader = await h.sync(r1["member_id"], 1, [(r1["member_id"], b"A"), (r2["member_id"], b"B")])
        assert leader["assignment"] == b"A" and follower.result()["assignment"] == b"B"
        assert h.group.state is S
        assert [k for k, _ in h.log] == [GroupMetadataKey("g")]
        assert h.log[0][1].generation == 1 and len(h.log[0][1].members) == 2
        assert h.heartbeat(r1["member_id"], 1) == 0

    run(main())


def test_join_validation_errors():
    async def main():
        h = Harness()
        assert h.join(group="")["error_code"] == ErrorCode.INVALID_GROUP_ID
        assert h.join(session=10)["error_code"] == ErrorCode.INVALID_SESSION_TIMEOUT
        assert h.join(session=10**8)["error_code"] == ErrorCode.INVALID_SESSION_TIMEOUT
        assert h.join(member_id="nobody")["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
        h.join_new(protocols=["range"])
        assert h.join(protocols=["roundrobin"], version=3)["error_code"] == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        assert h.join(ptype="connect", version=3)["error_code"] == ErrorCode.INCONSISTENT_GROUP_PROTOCOL

    run(main())


def test_v3_join_needs_no_member_id_round():
    async def main():
        h = Harness()
        fut = h.join(version=3)
        assert isinstance(fut, asyncio.Future)
        h.timers.advance(0.2)
        assert fut.result()["error_code"] == 0 and fut.result()["member_id"]

    run(main())


def test_protocol_chosen_by_vote_among_common_ones():
    async def main():
        h = Harness()
        f1 = h.join_new(protocols=["cooperative-sticky", "range"])
        f2 = h.join_new(protocols=["range", "roundrobin"])
        f3 = h.join_new(protocols=["range", "cooperative-sticky"])
        h.timers.advance(0.2)
        assert {f.result()["protocol_name"] for f in (f1, f2, f3)} == {"range"}

    run(main())


def test_heartbeat_errors():
    async def main():
        h = Harness()
        assert h.heartbeat("x", 0) == ErrorCode.UNKNOWN_MEMBER_ID
        r1, r2 = await _two_members(h)
        assert h.heartbeat("x", 1) == ErrorCode.UNKNOWN_MEMBER_ID
        assert h.heartbeat(r1["member_id"], 7) == ErrorCode.ILLEGAL_GENERATION
        # a third member joins: the others are told to rejoin
        h.join_new()
        assert h.group.state is PR
        assert h.heartbeat(r1["member_id"], 1) == ErrorCode.REBALANCE_IN_PROGRESS
        assert h.sync(r1["member_id"], 1)["error_code"] == ErrorCode.REBALANCE_IN_PROGRESS

    run(main())


def test_rebalance_timeout_removes_members_that_do_not_rejoin():
    async def main():
        h = Harness()
        r1, r2 = await _two_members(h)
        await h.sync(r1["member_id"], 1, [(r1["member_id"], b"A"), (r2["member_id"], b"B")])
        f1 = h.join(member_id=r1["member_id"])  # the leader rejoins: rebalance; r2 never comes
        assert h.group.state is PR and not f1.done()
        for _ in range(5):  # r1 stays alive by heartbeating; r2 stays silent but within its session
            h.timers.advance(1.0)
            h.heartbeat(r1["member_id"], 1)
        assert f1.done() and f1.result()["generation_id"] == 2
        assert list(h.group.members) == [r1["member_id"]]
        assert h.group.state is CR

    run(main())


def test_session_expiry_removes_a_silent_member_and_rebalances():
    async def main():
        h = Harness()
        r1, r2 = await _two_members(h)
        await h.sync(r1["member_id"], 1, [(r1["member_id"], b"A"), (r2["member_id"], b"B")])
        for _ in range(12):  # r1 heartbeats, r2 is dead
            h.timers.advance(1.0)
            if h.group.state is S:
                h.heartbeat(r1["member_id"], 1)
        assert r2["member_id"] not in h.group.members
        assert h.group.state is PR
        assert h.heartbeat(r1["member_id"], 1) == ErrorCode.REBALANCE_IN_PROGRESS
        f = h.join(member_id=r1["member_id"])
        assert f.done() and f.result()["generation_id"] == 2

    run(main())


def test_parked_join_keeps_a_member_alive():
    async def main():
        h = Harness()
        fut = h.join_new(session=1000, rebalance=30000)
        h.join_new(session=1000, rebalance=30000)  # second member: also parked
        h.timers.advance(0.2)
        assert fut.done()
        # CompletingRebalance: a parked SyncGroup counts as alive past the session timeout
        sync = h.sync(fut.result()["member_id"], 1)
        h.timers.advance(3.0)
        assert fut.result()["member_id"] in h.group.members or sync.done()

    run(main())


def test_leave_triggers_rebalance_and_last_leave_empties():
    async def main():
        h = Harness()
        r1, r2 = await _two_members(h)
        await h.sync(r1["member_id"], 1, [(r1["member_id"], b"A"), (r2["member_id"], b"B")])
        records, err, errs = h.shard.leave_group("g", [(r2["member_id"], None), ("ghost", None)])
        h.write(records)
        assert err == 0 and errs == [0, ErrorCode.UNKNOWN_MEMBER_ID]
        assert h.group.state is PR
        f = h.join(member_id=r1["member_id"])
        assert f.result()["generation_id"] == 2 and f.result()["members"][0]["member_id"] == r1["member_id"]
        records, _, _ = h.shard.leave_group("g", [(r1["member_id"], None)])
        h.write(records)
        # the last member left: the rebalance completes at once with nobody -> Empty, persisted
        assert h.group.state is E and h.group.generation_id == 3
        assert h.log[-1][0] == GroupMetadataKey("g") and h.log[-1][1].members == []

    run(main())


def test_static_member_rejoin_fences_the_old_id():
    async def main():
        h = Harness()
        f = h.join(instance="i-1")
        h.timers.advance(0.2)
        old = f.result()["member_id"]
        f2 = h.join(instance="i-1")
        assert old not in h.group.members
        assert h.join(member_id=old, instance="i-1")["error_code"] == ErrorCode.FENCED_INSTANCE_ID
        h.timers.advance(10)
        assert f2.result()["error_code"] == 0

    run(main())


def test_commits_and_fetches():
    async def main():
        h = Harness()
        assert h.commit(group="") == {("t", 0): ErrorCode.INVALID_GROUP_ID}
        assert h.commit(generation=3, member_id="m") == {("t", 0): ErrorCode.ILLEGAL_GENERATION}
        # simple commit with no membership creates an Empty group
        assert h.commit(offsets=[("t", 0, 5), ("t", 9, 1), ("u", 0, 1)]) == {
            ("t", 0): 0,
            ("t", 9): ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            ("u", 0): ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        }
        assert h.group.state is E
        assert h.commit(metadata="x" * 5000) == {("t", 0): ErrorCode.OFFSET_METADATA_TOO_LARGE}
        got = h.shard.fetch_offsets("g", [("t", [0, 1])])
        assert got[("t", 0)].offset == 5 and got[("t", 1)] is None
        assert set(h.shard.fetch_offsets("g", None)) == {("t", 0)}
        assert h.shard.fetch_offsets("nope", [("t", [0])]) == {("t", 0): None}

    run(main())


def test_commit_checks_membership_and_generation():
    async def main():
        h = Harness()
        r1, r2 = await _two_members(h)
        m1 = r1["member_id"]
        assert h.commit(generation=1, member_id=m1) == {("t", 0): ErrorCode.REBALANCE_IN_PROGRESS}
        await h.sync(m1, 1, [(m1, b"A")])
        assert h.commit(generation=1, member_id=m1) == {("t", 0): 0}
        assert h.commit(generation=2, member_id=m1) == {("t", 0): ErrorCode.ILLEGAL_GENERATION}
        assert h.commit(generation=1, member_id="x") == {("t", 0): ErrorCode.UNKNOWN_MEMBER_ID}
        assert h.commit() == {("t", 0): ErrorCode.UNKNOWN_MEMBER_ID}  # simple commit on a live group

    run(main())


def test_delete_group():
    async def main():
        h = Harness()
        records, err = h.shard.delete_group("missing")
        assert err == ErrorCode.GROUP_ID_NOT_FOUND
        h.join_new()
        assert h.shard.delete_group("g")[1] == ErrorCode.NON_EMPTY_GROUP
        h.commit(group="simple", offsets=[("t", 0, 1), ("t", 1, 2)])
        records, err = h.shard.delete_group("simple")
        assert err == 0
        assert all(v is None for _, v in records)
        assert {k for k, _ in records} == {
            OffsetCommitKey("simple", "t", 0),
            OffsetCommitKey("simple", "t", 1),
            GroupMetadataKey("simple"),
        }
        h.write(records)
        assert "simple" not in h.shard.groups and "simple" not in h.shard.offsets

    run(main())


def test_leave_of_an_unknown_group_names_each_member():
    h = Harness()
    records, err, errs = h.shard.leave_group("nope", [("a", None), ("b", None)])
    assert (records, err, errs) == ([], 0, [ErrorCode.UNKNOWN_MEMBER_ID] * 2)


def test_group_max_size_refuses_new_members_beyond_it():
    import dataclasses

    async def main():
        h = Harness()
        h.shard.config = dataclasses.replace(CONFIG, group_max_size=2)
        f1, f2 = h.join_new(), h.join_new()
        # rebalancing with two members waiting: a third is refused before it gets a member id
        assert h.join()["error_code"] == ErrorCode.GROUP_MAX_SIZE_REACHED
        h.timers.advance(0.3)
        m1, m2 = f1.result()["member_id"], f2.result()["member_id"]
        await h.sync(m1, 1, [(m1, b"A"), (m2, b"B")])
        assert h.sync(m2, 1)["error_code"] == 0
        assert h.group.state is S
        third = h.join()
        assert third["error_code"] == ErrorCode.GROUP_MAX_SIZE_REACHED and h.group.state is S
        assert len(h.group.members) == 2
        assert isinstance(h.join(member_id=m1), asyncio.Future)  # a member's rejoin is accepted

    asyncio.run(main())
