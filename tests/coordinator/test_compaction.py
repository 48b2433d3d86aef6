"""Compaction of __consumer_offsets: a shard's live records (the latest of every key) replay to
the state the whole log replays to, and the runtime replaces a mostly superseded log by them."""

import asyncio

import pytest

from hpbroker.config import BrokerConfig
from hpbroker.coordinator import coordinator as coordinator_module
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.coordinator.records import GroupMetadataKey
from hpbroker.coordinator.shard import GroupCoordinatorShard
from hpbroker.coordinator.state import GroupState

from .brokers import started
from .fakes import FakeTimers
from .test_shard import CONFIG, Harness


def _replayed(records):
    s = GroupCoordinatorShard(0, CONFIG, call_later=FakeTimers().call_later)
    for k, v in records:
        s.replay(k, v)
    return s


def _state(shard):
    return (
        {g: {tp: (v.offset, v.metadata) for tp, v in o.items()} for g, o in shard.offsets.items()},
        {
            g: (
                x.state,
                x.generation_id,
                x.protocol_type,
                x.protocol_name,
                x.leader_id,
                sorted((m.member_id, m.assignment) for m in x.members.values()),
            )
            for g, x in shard.groups.items()
            if shard.offsets.get(g) or g in shard.group_manager._group_records
        },
    )


def test_snapshot_records_replay_to_the_state_of_the_whole_log():
    async def main():
        h = Harness()
        for i in range(20):
            h.commit(offsets=[("t", 0, i), ("t", 1, 100 + i)])
            h.commit(group="simple", offsets=[("t", 2, i)])
        h.commit(group="gone", offsets=[("t", 0, 1)])
        f = h.join_new()
        h.timers.advance(0.2)
        m1 = f.result()["member_id"]
        await h.sync(m1, 1, [(m1, b"A")])
        records, error = h.shard.delete_group("gone")
        assert error == 0
        h.write(records)
        whole, snap = _replayed(h.log), _replayed(h.shard.snapshot_records())
        assert _state(snap) == _state(whole)
        assert "gone" not in snap.groups and snap.groups["g"].state is GroupState.STABLE
        assert h.shard.live_records() == len(h.shard.snapshot_records()) == 1 + 2 + 1  # g's metadata, 3 offsets
        kinds = sorted(type(k).__name__ for k, _ in h.shard.snapshot_records())
        assert kinds == ["GroupMetadataKey", "OffsetCommitKey", "OffsetCommitKey", "OffsetCommitKey"]
        assert all(v is not None for _, v in h.shard.snapshot_records())  # no tombstones

    asyncio.run(main())


def _commit(gc, group, partition, offset):
    shard = gc.shard_for(group)
    records, _ = shard.commit_offsets(
        {
            "group_id": group,
            "generation_id_or_member_epoch": -1,
            "member_id": "",
            "topics": [
                {
                    "name": "t",
                    "partitions": [
                        {"partition_index": partition, "committed_offset": offset, "committed_metadata": f"m{offset}"}
                    ],
                }
            ],
        },
        lambda t, p: True,
    )
    gc.write(shard, records)


def _committed(gc, group):
    return {p: v.offset for (t, p), v in gc.shard_for(group).fetch_offsets(group, None).items()}


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(coordinator_module, "COMPACT_MIN_RECORDS", 50)


async def _broker(tmp_path):
    cfg = BrokerConfig({"log.dirs": str(tmp_path), "offsets.topic.num.partitions": "1"})
    return await started(cfg, [("t", 2)])


def test_a_mostly_superseded_offsets_log_is_replaced_by_its_live_records(tmp_path, small_threshold):
    async def first():
        broker, gc = await _broker(tmp_path)
        plog = broker.replica_manager.partition(GROUP_METADATA_TOPIC, 0).log
        for i in range(30):
            _commit(gc, "a", 0, i)
        _commit(gc, "b", 1, 7)
        broker.run_maintenance()
        assert plog.log_start_offset == 0  # 31 records: below the threshold
        for i in range(30, 60):
            _commit(gc, "a", 0, i)
        _commit(gc, "doomed", 0, 1)
        records, _ = gc.shard_for("doomed").delete_group("doomed")
        gc.write(gc.shard_for("doomed"), records)
        end = plog.log_end_offset
        broker.run_maintenance()
        # the 2 live offsets were appended after a roll, everything before them is gone
        assert (plog.log_start_offset, plog.log_end_offset) == (end, end + 2)
        assert len(plog.segments) == 1 and plog.recovery_point == end + 2
        assert gc.compact() == 0  # 2 records: nothing to do until the log grows again
        _commit(gc, "b", 1, 8)
        broker.close()

    async def second():
        broker, gc = await _broker(tmp_path)
        got = {g: _committed(gc, g) for g in ("a", "b")}
        groups = set(gc.shard_for("a").groups)
        meta = gc.shard_for("a").fetch_offsets("a", None)[("t", 0)].metadata
        broker.close()
        return got, groups, meta

    asyncio.run(first())
    got, groups, meta = asyncio.run(second())
    assert got == {"a": {0: 59}, "b": {1: 8}} and groups == {"a", "b"} and meta == "m59"


def test_a_crash_between_snapshot_and_log_start_move_replays_the_same_state(tmp_path, small_threshold, monkeypatch):
    async def first():
        broker, gc = await _broker(tmp_path)
        for i in range(60):
            _commit(gc, "a", i % 2, i)
        plog = broker.replica_manager.partition(GROUP_METADATA_TOPIC, 0).log
        end = plog.log_end_offset

        def crash(offset):
            raise KeyboardInterrupt("crash before the log start moved")

        monkeypatch.setattr(plog, "advance_log_start_offset", crash)
        with pytest.raises(KeyboardInterrupt):
            gc.compact()
        assert plog.log_start_offset == 0 and plog.log_end_offset == end + 2  # old records + snapshot
        broker.close()

    async def second():
        broker, gc = await _broker(tmp_path)
        got = _committed(gc, "a")
        broker.close()
        return got

    asyncio.run(first())
    assert asyncio.run(second()) == {0: 58, 1: 59}


def test_group_metadata_survives_compaction(tmp_path, small_threshold):
    from hpbroker.coordinator.records import GroupMetadataValue, MemberMetadata

    async def first():
        broker, gc = await _broker(tmp_path)
        shard = gc.shard_for("g")
        for gen in range(1, 80):
            member = MemberMetadata("m1", None, "c", "/h", 10000, 5000, b"sub", b"asg%d" % gen)
            gc.write(shard, [(GroupMetadataKey("g"), GroupMetadataValue("consumer", gen, "range", "m1", -1, [member]))])
        assert gc.compact() == 1
        broker.close()

    async def second():
        broker, gc = await _broker(tmp_path)
        g = gc.shard_for("g").groups["g"]
        out = (g.generation_id, g.protocol_name, [(m.member_id, m.assignment) for m in g.members.values()])
        log = broker.replica_manager.partition(GROUP_METADATA_TOPIC, 0).log
        span = (log.log_start_offset, log.log_end_offset)
        broker.close()
        return out, span

    asyncio.run(first())
    out, span = asyncio.run(second())
    assert out == (79, "range", [("m1", b"asg79")]) and span == (79, 80)
