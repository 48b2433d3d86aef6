"""FindCoordinator and the group APIs through the request path on a LocalBroker: the first group
request starts the coordinator (creating __consumer_offsets through the controller), the errors
JoinGroup, SyncGroup, Heartbeat, LeaveGroup and OffsetCommit answer, a parked JoinGroup
answered when the rebalance completes, and a broker whose coordinator cannot start."""

import asyncio

import pytest

from hpbroker.coordinator.consumer_protocol import encode_assignment
from hpbroker.protocol.errors import ErrorCode
from hpbroker.testing import wait_until_async
from tests.handlers.harness import BrokerHarness

FIND_COORDINATOR, JOIN, HEARTBEAT, LEAVE, SYNC, COMMIT, OFFSET_FETCH, LIST, DESCRIBE = 10, 11, 12, 13, 14, 8, 9, 16, 15
CONFIG = {"group.initial.rebalance.delay.ms": "0", "offsets.topic.num.partitions": "3"}


def _join(member_id="", group="g", session=6000, version=5):
    return {
        "group_id": group,
        "session_timeout_ms": session,
        "rebalance_timeout_ms": 5000,
        "member_id": member_id,
        "group_instance_id": None,
        "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": b"\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"}],
    }


@pytest.fixture
def groups(tmp_path):
    h = BrokerHarness(tmp_path, CONFIG)
    yield h
    h.close()


def test_find_coordinator_creates_the_offsets_topic_on_the_first_request(groups):
    assert "__consumer_offsets" not in groups.topics
    r = groups.request(FIND_COORDINATOR, 2, {"key": "g", "key_type": 0})
    assert (r["error_code"], r["node_id"], r["host"], r["port"]) == (0, 0, "localhost", 9092)
    info = groups.topics.get("__consumer_offsets")
    assert info.num_partitions == 3 and info.configs == {"cleanup.policy": "compact"}
    assert groups.broker.group_coordinator.started and len(groups.broker.group_coordinator.shards) == 3
    r = groups.request(FIND_COORDINATOR, 2, {"key": "t", "key_type": 1})
    assert (r["error_code"], r["node_id"]) == (0, 0) and "__transaction_state" in groups.topics
    assert groups.request(FIND_COORDINATOR, 2, {"key": "x", "key_type": 9})["error_code"] == ErrorCode.INVALID_REQUEST


def test_any_group_request_starts_the_coordinator(groups):
    r = groups.request(OFFSET_FETCH, 5, {"group_id": "g", "topics": None})
    assert r["error_code"] == 0 and r["topics"] == []
    assert "__consumer_offsets" in groups.topics


def test_join_sync_heartbeat_leave_and_their_errors(groups):
    assert groups.request(JOIN, 5, _join(session=10))["error_code"] == ErrorCode.INVALID_SESSION_TIMEOUT
    assert groups.request(JOIN, 5, _join(group=""))["error_code"] == ErrorCode.INVALID_GROUP_ID
    assert groups.request(JOIN, 5, _join(member_id="who"))["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
    first = groups.request(JOIN, 5, _join())
    assert first["error_code"] == ErrorCode.MEMBER_ID_REQUIRED and first["member_id"]
    m = first["member_id"]
    joined = groups.request(JOIN, 5, _join(member_id=m))  # parked until the rebalance completes
    assert (joined["error_code"], joined["generation_id"], joined["leader"]) == (0, 1, m)
    assignment = encode_assignment([("t", [0])])
    assert (
        groups.request(SYNC, 3, {"group_id": "g", "generation_id": 2, "member_id": m, "assignments": []})["error_code"]
        == ErrorCode.ILLEGAL_GENERATION
    )
    synced = groups.request(
        SYNC,
        3,
        {
            "group_id": "g",
            "generation_id": 1,
            "member_id": m,
            "assignments": [{"member_id": m, "assignment": assignment}],
        },
    )
    assert synced["error_code"] == 0 and bytes(synced["assignment"]) == assignment
    assert groups.request(HEARTBEAT, 3, {"group_id": "g", "generation_id": 1, "member_id": m})["error_code"] == 0
    assert (
        groups.request(HEARTBEAT, 3, {"group_id": "g", "generation_id": 1, "member_id": "x"})["error_code"]
        == ErrorCode.UNKNOWN_MEMBER_ID
    )
    d = groups.request(DESCRIBE, 4, {"groups": ["g", "none"], "include_authorized_operations": False})["groups"]
    assert [(x["group_id"], x["group_state"]) for x in d] == [("g", "Stable"), ("none", "Dead")]
    left = groups.request(
        LEAVE,
        3,
        {
            "group_id": "g",
            "members": [{"member_id": m, "group_instance_id": None}, {"member_id": "ghost", "group_instance_id": None}],
        },
    )
    assert [x["error_code"] for x in left["members"]] == [0, ErrorCode.UNKNOWN_MEMBER_ID]
    assert groups.request(LIST, 5, {"states_filter": [], "types_filter": []})["groups"] == [
        {"group_id": "g", "protocol_type": "consumer", "group_state": "Empty", "group_type": "classic"}
    ]


def test_two_members_a_joining_one_parks_until_the_other_rejoins(groups):
    async def main():
        a = (await groups.arequest(JOIN, 5, _join()))["member_id"]
        first = await groups.arequest(JOIN, 5, _join(member_id=a))
        assert first["generation_id"] == 1
        b = (await groups.arequest(JOIN, 5, _join()))["member_id"]
        b_joins = asyncio.ensure_future(groups.arequest(JOIN, 5, _join(member_id=b)))
        group = groups.broker.group_coordinator.shard_for("g").groups["g"]
        await wait_until_async(
            lambda: b in group.members and group.members[b].awaiting_join, 5, "b's JoinGroup to park"
        )
        assert not b_joins.done()  # a rebalance: parked until every member rejoined
        hb = await groups.arequest(HEARTBEAT, 3, {"group_id": "g", "generation_id": 1, "member_id": a})
        assert hb["error_code"] == ErrorCode.REBALANCE_IN_PROGRESS
        a_rejoins = await groups.arequest(JOIN, 5, _join(member_id=a))
        b_joined = await asyncio.wait_for(b_joins, 5)
        assert a_rejoins["generation_id"] == b_joined["generation_id"] == 2
        assert {a_rejoins["leader"], b_joined["leader"]} == {a}

    groups.run(main())


def test_offset_commit_errors(groups):
    groups.create_topic("t", 2)

    def commit(partitions, generation=-1, member_id=""):
        r = groups.request(
            COMMIT,
            7,
            {
                "group_id": "g",
                "generation_id_or_member_epoch": generation,
                "member_id": member_id,
                "group_instance_id": None,
                "topics": [
                    {
                        "name": "t",
                        "partitions": [
                            {
                                "partition_index": p,
                                "committed_offset": o,
                                "committed_leader_epoch": -1,
                                "committed_metadata": meta,
                            }
                            for p, o, meta in partitions
                        ],
                    }
                ],
            },
        )
        return [p["error_code"] for p in r["topics"][0]["partitions"]]

    assert commit([(0, 5, ""), (9, 1, ""), (1, 1, "m" * 5000)]) == [
        0,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.OFFSET_METADATA_TOO_LARGE,
    ]
    assert commit([(0, 6, "")], generation=3, member_id="m") == [ErrorCode.UNKNOWN_MEMBER_ID]
    fetched = groups.request(OFFSET_FETCH, 5, {"group_id": "g", "topics": [{"name": "t", "partition_indexes": [0, 1]}]})
    assert [p["committed_offset"] for p in fetched["topics"][0]["partitions"]] == [5, -1]


def test_a_broker_that_cannot_start_its_coordinator(tmp_path):
    """Not the controller, and __consumer_offsets not created yet: no group is coordinated here
    (as a handler process other than handler 0 before the controller created the topic)."""
    h = BrokerHarness(tmp_path, CONFIG, controller=False)
    try:
        assert h.request(JOIN, 5, _join())["error_code"] == ErrorCode.NOT_COORDINATOR
        assert (
            h.request(HEARTBEAT, 3, {"group_id": "g", "generation_id": 1, "member_id": "m"})["error_code"]
            == ErrorCode.NOT_COORDINATOR
        )
        assert h.request(LIST, 4, {"states_filter": []}) == {"throttle_time_ms": 0, "error_code": 0, "groups": []}
        r = h.request(FIND_COORDINATOR, 2, {"key": "g", "key_type": 0})
        assert (r["error_code"], r["node_id"]) == (ErrorCode.COORDINATOR_NOT_AVAILABLE, -1)
        assert not h.broker.group_coordinator.started
    finally:
        h.close()
