"""Replay: the records a shard wrote rebuild the same state in a fresh shard (start-up), and the
runtime's log round trip (append, read back, replay) keeps committed offsets across a restart."""

import asyncio

from hpbroker.config import BrokerConfig
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.coordinator.records import (
    GroupMetadataKey,
    GroupMetadataValue,
    MemberMetadata,
    OffsetCommitKey,
    OffsetCommitValue,
)
from hpbroker.coordinator.shard import GroupCoordinatorShard
from hpbroker.coordinator.state import GroupState
from hpbroker.records.builder import build_batch
from hpbroker.testing import wait_until

from .brokers import started
from .fakes import FakeTimers
from .test_shard import CONFIG, Harness


def _fresh():
    t = FakeTimers()
    return GroupCoordinatorShard(0, CONFIG, call_later=t.call_later)


def test_records_rebuild_offsets_and_groups():
    async def main():
        h = Harness()
        h.commit(offsets=[("t", 0, 5), ("t", 1, 7)])
        h.commit(offsets=[("t", 0, 9)])
        f = h.join_new()
        h.join_new()
        h.timers.advance(0.2)
        m1 = f.result()["member_id"]
        await h.sync(m1, 1, [(m1, b"A")])
        s = _fresh()
        for k, v in h.log:
            s.replay(k, v)
        assert {tp: v.offset for tp, v in s.offsets["g"].items()} == {("t", 0): 9, ("t", 1): 7}
        g = s.groups["g"]
        assert g.state is GroupState.STABLE and g.generation_id == 1 and g.protocol_name == "range"
        assert g.members[m1].assignment == b"A" and g.leader_id == m1

    asyncio.run(main())


def test_tombstones_delete():
    s = _fresh()
    s.replay(OffsetCommitKey("g", "t", 0), OffsetCommitValue(3))
    s.replay(GroupMetadataKey("g"), GroupMetadataValue("consumer", 4, None, None))
    assert s.groups["g"].state is GroupState.EMPTY and s.groups["g"].generation_id == 4
    s.replay(OffsetCommitKey("g", "t", 0), None)
    s.replay(GroupMetadataKey("g"), None)
    assert "g" not in s.groups and "g" not in s.offsets


def test_loaded_members_expire_if_they_never_come_back():
    t = FakeTimers()
    s = GroupCoordinatorShard(0, CONFIG, call_later=t.call_later)
    s.replay(
        GroupMetadataKey("g"),
        GroupMetadataValue(
            "consumer", 2, "range", "m1", -1, [MemberMetadata("m1", None, "c", "/h", 5000, 2000, b"", b"A")]
        ),
    )
    assert s.groups["g"].state is GroupState.STABLE

    async def main():  # expiry moves to PreparingRebalance, then the join completes with nobody
        t.advance(2.5)
        t.advance(6)

    asyncio.run(main())
    assert s.groups["g"].state is GroupState.EMPTY and s.groups["g"].generation_id == 3


def test_coordinator_restart_replays_its_partitions(tmp_path):
    cfg = BrokerConfig({"log.dirs": str(tmp_path), "offsets.topic.num.partitions": "3"})

    async def first():
        broker, gc = await started(cfg, [("t", 2)])
        assert broker.metadata.topics.get(GROUP_METADATA_TOPIC).configs == {"cleanup.policy": "compact"}
        shard = gc.shard_for("grp")
        req = {
            "group_id": "grp",
            "generation_id_or_member_epoch": -1,
            "member_id": "",
            "topics": [
                {"name": "t", "partitions": [{"partition_index": 1, "committed_offset": 11, "committed_metadata": "m"}]}
            ],
        }
        records, res = shard.commit_offsets(req, lambda t, p: True)
        gc.write(shard, records)
        records, res = shard.commit_offsets(
            {
                **req,
                "topics": [
                    {
                        "name": "t",
                        "partitions": [{"partition_index": 1, "committed_offset": 12, "committed_metadata": None}],
                    }
                ],
            },
            lambda t, p: True,
        )
        gc.write(shard, records)
        broker.close()

    async def second():
        broker, gc = await started(cfg)
        v = gc.shard_for("grp").fetch_offsets("grp", [("t", [1])])[("t", 1)]
        broker.close()
        return v

    asyncio.run(first())
    v = asyncio.run(second())
    assert v.offset == 12 and v.metadata == ""


def test_a_later_record_replaces_the_members():
    s = _fresh()
    s.replay(
        GroupMetadataKey("g"),
        GroupMetadataValue(
            "consumer", 1, "range", "m1", -1, [MemberMetadata("m1", None, "c", "/h", 5000, 6000, b"", b"A")]
        ),
    )
    s.replay(GroupMetadataKey("g"), GroupMetadataValue("consumer", 2, None, None, -1, []))
    g = s.groups["g"]
    assert g.state is GroupState.EMPTY and g.members == {} and g.generation_id == 2


def test_committed_offsets_never_age_out_of_the_compacted_offsets_topic(tmp_path):
    """__consumer_offsets is cleanup.policy=compact: retention.ms and retention.bytes do not
    delete its segments (Kafka deletes by time or size only with "delete" in the policy), so a
    group that committed once, long ago, still has its offset after a restart."""
    cfg = BrokerConfig(
        {
            "log.dirs": str(tmp_path),
            "offsets.topic.num.partitions": "1",
            "log.retention.ms": "1",
            "log.retention.bytes": "1",
            "log.segment.bytes": "200",
        }
    )

    def commit(gc, group, offset):
        shard = gc.shard_for(group)
        records, _ = shard.commit_offsets(
            {
                "group_id": group,
                "generation_id_or_member_epoch": -1,
                "member_id": "",
                "topics": [
                    {
                        "name": "t",
                        "partitions": [{"partition_index": 0, "committed_offset": offset, "committed_metadata": ""}],
                    }
                ],
            },
            lambda t, p: True,
        )
        gc.write(shard, records)

    async def first():
        broker, gc = await started(cfg, [("t", 1), ("plain", 1)])
        commit(gc, "old", 7)
        for i in range(20):  # roll the segment holding "old"'s commit well behind the active one
            commit(gc, "busy", i)
        offsets_log = broker.replica_manager.partition(GROUP_METADATA_TOPIC, 0).log
        plain = broker.replica_manager.partition("plain", 0).log
        for _ in range(3):
            plain.append(build_batch([b"x" * 150]))
        assert len(offsets_log.segments) > 2 and len(plain.segments) == 3
        # a "delete" topic on the same broker ages out once its 1 ms retention has passed
        wait_until(lambda: broker.run_maintenance() or len(plain.segments) == 1, 10, 'retention of "plain"')
        assert offsets_log.log_start_offset == 0 and len(offsets_log.segments) > 2
        broker.close()

    async def second():
        broker, gc = await started(cfg)
        got = {g: gc.shard_for(g).fetch_offsets(g, [("t", [0])])[("t", 0)].offset for g in ("old", "busy")}
        broker.close()
        return got

    asyncio.run(first())
    assert asyncio.run(second()) == {"old": 7, "busy": 19}
