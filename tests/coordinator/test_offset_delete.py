"""GroupCoordinatorShard.delete_offsets: OffsetDelete's group rules (Kafka's handleDeleteOffsets)."""

import asyncio

from hpbroker.coordinator.records import GroupMetadataKey, OffsetCommitKey, OffsetCommitValue
from hpbroker.coordinator.state import GroupState
from hpbroker.protocol.errors import ErrorCode

from .test_offset_expiry import _subscription
from .test_shard import Harness


def _consumer_member(h, topics, ptype="consumer"):
    """One member of group "g" subscribed to ``topics``, taken to Stable."""

    def join(member_id=""):
        req = {
            "group_id": "g",
            "member_id": member_id,
            "session_timeout_ms": 10000,
            "rebalance_timeout_ms": 5000,
            "group_instance_id": None,
            "protocol_type": ptype,
            "protocols": [{"name": "range", "metadata": _subscription(*topics)}],
        }
        return h.run(h.shard.join_group(req, 5, "client", "/127.0.0.1"))

    m = join()["member_id"]  # MEMBER_ID_REQUIRED
    join(m)
    h.timers.advance(0.2)
    return m


def test_group_level_errors():
    h = Harness()
    assert h.shard.delete_offsets("", [("t", 0)]) == ([], ErrorCode.INVALID_GROUP_ID, {})
    assert h.shard.delete_offsets("missing", [("t", 0)]) == ([], ErrorCode.GROUP_ID_NOT_FOUND, {})


def test_an_empty_group_loses_what_is_named_and_goes_with_its_last_offset():
    h = Harness()
    h.commit(offsets=[("t", 0, 5), ("t", 1, 6), ("t", 2, 7)])
    records, err, errors = h.shard.delete_offsets("g", [("t", 0), ("t", 3)])
    # naming a partition without a committed offset is not an error; no tombstone for it
    assert (err, errors) == (0, {("t", 0): 0, ("t", 3): 0})
    assert records == [(OffsetCommitKey("g", "t", 0), None)]
    h.write(records)
    assert set(h.shard.fetch_offsets("g", None)) == {("t", 1), ("t", 2)}
    assert h.group.state is GroupState.EMPTY
    records, err, _ = h.shard.delete_offsets("g", [("t", 1), ("t", 2), ("t", 1)])
    assert err == 0
    assert records == [
        (OffsetCommitKey("g", "t", 1), None),
        (OffsetCommitKey("g", "t", 2), None),
        (GroupMetadataKey("g"), None),
    ]
    h.write(records)
    assert "g" not in h.shard.groups and "g" not in h.shard.offsets
    assert h.shard.delete_offsets("g", [("t", 0)])[1] == ErrorCode.GROUP_ID_NOT_FOUND


def test_a_live_consumer_group_keeps_the_offsets_of_topics_it_subscribes_to():
    async def main():
        h = Harness()
        m = _consumer_member(h, ["t"])
        await h.sync(m, 1, [(m, b"")])
        assert h.group.state is GroupState.STABLE
        h.commit(generation=1, member_id=m, offsets=[("t", 0, 5)])
        h.write([(OffsetCommitKey("g", "u", 0), OffsetCommitValue(1, -1, "", 0))])
        records, err, errors = h.shard.delete_offsets("g", [("t", 0), ("u", 0)])
        assert err == 0
        assert errors == {("t", 0): ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, ("u", 0): 0}
        assert records == [(OffsetCommitKey("g", "u", 0), None)]  # the live group stays
        h.write(records)
        assert set(h.shard.fetch_offsets("g", None)) == {("t", 0)}

    asyncio.run(main())


def test_a_group_of_another_protocol_type_with_members_is_not_empty():
    async def main():
        h = Harness()
        m = _consumer_member(h, ["t"], ptype="connect")
        await h.sync(m, 1, [(m, b"")])
        h.commit(generation=1, member_id=m, offsets=[("t", 1, 1)])
        assert h.shard.delete_offsets("g", [("t", 1)]) == ([], ErrorCode.NON_EMPTY_GROUP, {})

    asyncio.run(main())
