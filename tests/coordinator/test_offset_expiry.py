"""offsets.retention.minutes (Kafka's KIP-211): a consumer group's offsets expire once it has
been Empty for the retention, a simple consumer's offsets each from its own commit; an Empty
group left without offsets is deleted. Expiry writes tombstones through the same path as every
other change, so a restart sees it too."""

import asyncio
import time

from hpbroker.config import BrokerConfig
from hpbroker.coordinator import offset_manager
from hpbroker.coordinator.records import GroupMetadataKey, OffsetCommitKey, OffsetCommitValue
from hpbroker.coordinator.state import GroupState

from .brokers import started
from .test_shard import CONFIG, Harness

RETENTION = CONFIG.offsets_retention_ms


def test_a_simple_consumers_offsets_expire_each_from_its_commit(monkeypatch):
    h = Harness()
    clock = [1_000_000]
    monkeypatch.setattr(offset_manager, "_now_ms", lambda: clock[0])
    h.commit(group="s", offsets=[("t", 0, 5)])
    clock[0] += 1000
    h.commit(group="s", offsets=[("t", 1, 7)])
    assert h.shard.expire_offsets(1_000_000 + RETENTION - 1) == []
    first = h.shard.expire_offsets(1_000_000 + RETENTION)
    assert first == [(OffsetCommitKey("s", "t", 0), None)]
    h.write(first)
    assert set(h.shard.offsets["s"]) == {("t", 1)} and "s" in h.shard.groups
    last = h.shard.expire_offsets(1_001_000 + RETENTION)
    assert last == [(OffsetCommitKey("s", "t", 1), None), (GroupMetadataKey("s"), None)]
    h.write(last)
    assert "s" not in h.shard.offsets and "s" not in h.shard.groups


async def _stable_then_empty(h, before_leaving=lambda m: None):
    """One member joins, syncs (Stable), runs ``before_leaving(member_id)``, and leaves (Empty)."""
    f = h.join_new()
    h.timers.advance(0.2)
    m = f.result()["member_id"]
    await h.sync(m, 1, [(m, b"A")])
    before_leaving(m)
    records, _, _ = h.shard.leave_group("g", [(m, None)])
    h.write(records)
    assert h.group.state is GroupState.EMPTY


def test_a_consumer_groups_offsets_wait_until_it_has_been_empty_for_the_retention():
    h = Harness()

    def commit_while_stable(m):
        h.commit(generation=1, member_id=m, offsets=[("t", 0, 5), ("t", 1, 6)])
        far = int(time.time() * 1000) + 10 * RETENTION
        assert h.shard.expire_offsets(far) == []  # Stable: its offsets are in use, however old

    async def main():
        await _stable_then_empty(h, commit_while_stable)
        empty_since = h.group.state_timestamp
        assert h.shard.expire_offsets(empty_since + RETENTION - 1) == []
        expired = h.shard.expire_offsets(empty_since + RETENTION)
        assert sorted(k.partition for k, _ in expired if isinstance(k, OffsetCommitKey)) == [0, 1]
        assert expired[-1] == (GroupMetadataKey("g"), None)
        h.write(expired)
        assert h.shard.list_groups() == [] and h.shard.fetch_offsets("g", None) == {}

    asyncio.run(main())


def test_an_explicit_expire_timestamp_wins_and_empty_groups_without_offsets_go():
    h = Harness()
    h.write([(OffsetCommitKey("old", "t", 0), OffsetCommitValue(3, -1, "", 10, 500))])  # a v1 record
    assert h.shard.expire_offsets(499) == []
    assert h.shard.expire_offsets(500) == [(OffsetCommitKey("old", "t", 0), None), (GroupMetadataKey("old"), None)]
    h.commit(group="bare", offsets=[("t", 0, 1)])
    h.write([(OffsetCommitKey("bare", "t", 0), None)])  # its only offset deleted: the group is left
    assert "bare" in h.shard.groups
    assert (GroupMetadataKey("bare"), None) in h.shard.expire_offsets(0)


def test_the_empty_since_timestamp_survives_a_reload():
    h = Harness()
    asyncio.run(_stable_then_empty(h))
    from .test_replay import _fresh

    s = _fresh()
    for k, v in h.log:
        s.replay(k, v)
    assert s.groups["g"].state is GroupState.EMPTY
    assert s.groups["g"].state_timestamp == h.group.state_timestamp


def test_the_coordinator_expires_on_its_interval_and_a_restart_sees_it(tmp_path):
    from hpbroker.testing import wait_until

    cfg = BrokerConfig(
        {
            "log.dirs": str(tmp_path),
            "offsets.topic.num.partitions": "1",
            "offsets.retention.minutes": "1",
            "offsets.retention.check.interval.ms": "1",
        }
    )

    def commit(gc, group, ts):
        shard = gc.shard_for(group)
        gc.write(shard, [(OffsetCommitKey(group, "t", 0), OffsetCommitValue(1, -1, "", ts))])

    async def first():
        broker, gc = await started(cfg, [("t", 1)])
        now = int(time.time() * 1000)
        commit(gc, "stale", now - 61_000)
        commit(gc, "fresh", now)
        # a maintenance tick expires "stale" once its 1 ms check interval has passed
        wait_until(
            lambda: broker.run_maintenance() or {g.group_id for g in gc.shard_for("fresh").list_groups()} == {"fresh"},
            10,
            "the expiry of the stale group",
        )
        broker.close()

    async def second():
        broker, gc = await started(cfg)
        out = {g: gc.shard_for(g).fetch_offsets(g, None) for g in ("stale", "fresh")}
        broker.close()
        return out

    asyncio.run(first())
    out = asyncio.run(second())
    assert out["stale"] == {} and out["fresh"][("t", 0)].offset == 1


def test_an_offset_commit_v2_to_v4_retention_becomes_the_expire_timestamp(monkeypatch):
    from hpbroker.coordinator.records import decode_value, encode_key, encode_value

    monkeypatch.setattr(offset_manager, "_now_ms", lambda: 5_000)
    h = Harness()
    req = {
        "group_id": "old-client",
        "generation_id_or_member_epoch": -1,
        "member_id": "",
        "retention_time_ms": 1000,
        "topics": [
            {"name": "t", "partitions": [{"partition_index": 0, "committed_offset": 9, "committed_metadata": "m"}]}
        ],
    }
    records, _ = h.shard.commit_offsets(req, lambda t, p: True)
    ((key, value),) = records
    assert (value.offset, value.commit_timestamp, value.expire_timestamp) == (9, 5_000, 6_000)
    raw = encode_value(value)
    assert raw[:2] == b"\x00\x01" and decode_value(key, raw) == value  # written as v1, as Kafka does
    assert encode_key(key)  # the key is unchanged
    h.write(records)
    assert h.shard.expire_offsets(5_999) == []
    assert (OffsetCommitKey("old-client", "t", 0), None) in h.shard.expire_offsets(6_000)
    # -1 (and v5+, which has no such field) leaves the broker's retention in charge
    records, _ = h.shard.commit_offsets({**req, "retention_time_ms": -1}, lambda t, p: True)
    assert records[0][1].expire_timestamp == -1 and encode_value(records[0][1])[:2] == b"\x00\x03"


def test_a_retention_near_long_max_keeps_the_offsets_and_still_encodes(monkeypatch):
    """retention_time_ms up to Long.MAX_VALUE: commit time + retention would not fit the
    record's int64 (the handler raised, an internal error); it is held at Long.MAX_VALUE."""
    from hpbroker.coordinator.records import decode_value, encode_value

    monkeypatch.setattr(offset_manager, "_now_ms", lambda: 5_000)
    h = Harness()
    req = {
        "group_id": "g",
        "generation_id_or_member_epoch": -1,
        "member_id": "",
        "retention_time_ms": 2**63 - 1,
        "topics": [{"name": "t", "partitions": [{"partition_index": 0, "committed_offset": 9}]}],
    }
    records, results = h.shard.commit_offsets(req, lambda t, p: True)
    ((key, value),) = records
    assert results[("t", 0)] == 0 and value.expire_timestamp == 2**63 - 1
    assert decode_value(key, encode_value(value)) == value
    h.write(records)
    assert h.shard.expire_offsets(2**62) == []


def _subscription(*topics: str) -> bytes:
    """ConsumerProtocolSubscription v0: version, topics, user data (null)."""
    import struct

    out = struct.pack(">hi", 0, len(topics))
    for t in topics:
        out += struct.pack(">h", len(t)) + t.encode()
    return out + struct.pack(">i", -1)


def test_a_stable_groups_offsets_of_topics_nobody_subscribes_to_expire_from_their_commit(monkeypatch):
    """KIP-496: the group lives on, subscribed to "t" only; its old offsets of "gone" expire."""
    clock = [10_000_000]
    monkeypatch.setattr(offset_manager, "_now_ms", lambda: clock[0])

    async def main():
        h = Harness()

        def join(member_id="", protocols=(("range", _subscription("t")),)):
            req = {
                "group_id": "g",
                "member_id": member_id,
                "session_timeout_ms": 10000,
                "rebalance_timeout_ms": 5000,
                "group_instance_id": None,
                "protocol_type": "consumer",
                "protocols": [{"name": n, "metadata": m} for n, m in protocols],
            }
            return h.run(h.shard.join_group(req, 5, "client", "/127.0.0.1"))

        m = join()["member_id"]  # MEMBER_ID_REQUIRED
        f = join(m)
        h.timers.advance(0.2)
        await h.sync(m, 1, [(m, b"")])
        assert h.group.state is GroupState.STABLE
        h.commit(generation=1, member_id=m, offsets=[("t", 0, 5)])
        committed_at = clock[0]  # an offset of a topic it no longer subscribes to, from before:
        h.write([(OffsetCommitKey("g", "gone", 0), OffsetCommitValue(7, -1, "", committed_at))])
        assert h.shard.expire_offsets(committed_at + RETENTION - 1) == []
        assert h.shard.expire_offsets(committed_at + RETENTION) == [(OffsetCommitKey("g", "gone", 0), None)]
        # a member whose subscription does not decode: nothing of the live group expires
        h.group.members[m].protocols = [("range", b"\x00")]
        assert h.shard.expire_offsets(committed_at + 10 * RETENTION) == []
        assert f.done()

    asyncio.run(main())
