"""The group APIs byte-level, with exact requests: error codes as Kafka chooses them."""

import pytest

from hpbroker.coordinator.consumer_protocol import encode_assignment
from hpbroker.protocol.errors import ErrorCode
from tests.integration.conftest import mode_broker

from .conftest import create_topic
from .groupclients import GROUP_BROKER_CONFIG, group_id, groups_on_every_handler
from .rawclient import RawClient

pytestmark = pytest.mark.integration

FIND_COORDINATOR, JOIN, HEARTBEAT, LEAVE, SYNC, DESCRIBE, LIST, DELETE = 10, 11, 12, 13, 14, 15, 16, 42
COMMIT, FETCH, METADATA, API_VERSIONS = 8, 9, 3, 18


@pytest.fixture(scope="module")
def gbroker():
    with mode_broker(config=GROUP_BROKER_CONFIG) as b:
        yield b


@pytest.fixture
def raw(gbroker):
    with RawClient(gbroker.bootstrap) as c:
        yield c


def _join(raw, group, member_id="", version=5, session=6000):
    return raw.request(
        JOIN,
        version,
        {
            "group_id": group,
            "session_timeout_ms": session,
            "rebalance_timeout_ms": 5000,
            "member_id": member_id,
            "group_instance_id": None,
            "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": b"\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"}],
        },
    )


def _commit(raw, group, topic, offsets, generation=-1, member_id="", version=7, metadata=""):
    return raw.request(
        COMMIT,
        version,
        {
            "group_id": group,
            "generation_id_or_member_epoch": generation,
            "member_id": member_id,
            "group_instance_id": None,
            "retention_time_ms": -1,
            "topics": [
                {
                    "name": topic,
                    "partitions": [
                        {
                            "partition_index": p,
                            "committed_offset": o,
                            "committed_leader_epoch": 0,
                            "committed_metadata": metadata,
                        }
                        for p, o in offsets
                    ],
                }
            ],
        },
    )


def _fetch(raw, group, topics, version=5):
    return raw.request(FETCH, version, {"group_id": group, "topics": topics})


def test_versions_advertised(raw):
    keys = {a["api_key"]: (a["min_version"], a["max_version"]) for a in raw.request(API_VERSIONS, 0, {})["api_keys"]}
    assert keys[COMMIT] == (2, 7) and keys[FETCH] == (1, 5) and keys[FIND_COORDINATOR] == (0, 2)
    assert keys[JOIN] == (0, 5) and keys[SYNC] == (0, 3) and keys[HEARTBEAT] == (0, 3) and keys[LEAVE] == (0, 3)
    assert keys[LIST] == (0, 5) and keys[DESCRIBE] == (0, 4) and keys[DELETE] == (0, 1)


def test_find_coordinator(gbroker, raw):
    r = raw.request(FIND_COORDINATOR, 2, {"key": "g", "key_type": 0})
    assert r["error_code"] == 0 and (r["host"], r["port"]) == (gbroker.host, gbroker.port)
    assert raw.request(FIND_COORDINATOR, 0, {"key": "g"})["port"] == gbroker.port
    r = raw.request(FIND_COORDINATOR, 1, {"key": "txn", "key_type": 1})
    assert r["error_code"] == 0 and (r["host"], r["port"]) == (gbroker.host, gbroker.port)
    assert raw.request(FIND_COORDINATOR, 2, {"key": "x", "key_type": 5})["error_code"] == ErrorCode.INVALID_REQUEST
    md = raw.request(METADATA, 8, {"topics": [{"name": "__consumer_offsets"}], "allow_auto_topic_creation": False})
    t = md["topics"][0]
    assert t["error_code"] == 0 and t["is_internal"] and len(t["partitions"]) == 10


def test_join_errors_and_member_id_required(raw):
    g = group_id()
    assert _join(raw, g, session=10)["error_code"] == ErrorCode.INVALID_SESSION_TIMEOUT
    assert _join(raw, "")["error_code"] == ErrorCode.INVALID_GROUP_ID
    assert _join(raw, g, member_id="who")["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
    r = _join(raw, g)
    assert r["error_code"] == ErrorCode.MEMBER_ID_REQUIRED and r["member_id"]
    r = _join(raw, g, member_id=r["member_id"])  # parks through the initial delay, then leads alone
    assert r["error_code"] == 0 and r["generation_id"] == 1 and r["leader"] == r["member_id"]
    m = r["member_id"]
    assert (
        raw.request(HEARTBEAT, 3, {"group_id": g, "generation_id": 1, "member_id": "x"})["error_code"]
        == ErrorCode.UNKNOWN_MEMBER_ID
    )
    assert (
        raw.request(HEARTBEAT, 3, {"group_id": g, "generation_id": 9, "member_id": m})["error_code"]
        == ErrorCode.ILLEGAL_GENERATION
    )
    s = raw.request(
        SYNC,
        3,
        {
            "group_id": g,
            "generation_id": 1,
            "member_id": m,
            "assignments": [{"member_id": m, "assignment": encode_assignment([("t", [0])])}],
        },
    )
    assert s["error_code"] == 0 and bytes(s["assignment"]) == encode_assignment([("t", [0])])
    assert raw.request(HEARTBEAT, 3, {"group_id": g, "generation_id": 1, "member_id": m})["error_code"] == 0
    d = raw.request(DESCRIBE, 4, {"groups": [g]})["groups"][0]
    assert d["group_state"] == "Stable" and d["protocol_data"] == "range" and d["members"][0]["member_id"] == m
    assert raw.request(DELETE, 1, {"groups_names": [g]})["results"][0]["error_code"] == ErrorCode.NON_EMPTY_GROUP
    lv = raw.request(
        LEAVE,
        3,
        {
            "group_id": g,
            "members": [{"member_id": m, "group_instance_id": None}, {"member_id": "ghost", "group_instance_id": None}],
        },
    )
    assert lv["error_code"] == 0 and [x["error_code"] for x in lv["members"]] == [0, ErrorCode.UNKNOWN_MEMBER_ID]
    assert raw.request(DESCRIBE, 4, {"groups": [g]})["groups"][0]["group_state"] == "Empty"
    assert raw.request(LEAVE, 1, {"group_id": g, "member_id": m})["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID


def test_simple_commit_fetch_list_delete(gbroker, raw, topic_name):
    create_topic(gbroker.bootstrap, topic_name, 2)
    g = group_id()
    fetched = _fetch(raw, g, [{"name": topic_name, "partition_indexes": [0, 1]}])
    assert fetched["error_code"] == 0
    assert [
        (p["committed_offset"], p["committed_leader_epoch"], p["error_code"])
        for p in fetched["topics"][0]["partitions"]
    ] == [(-1, -1, 0), (-1, -1, 0)]
    r = _commit(raw, g, topic_name, [(0, 5), (7, 1)])
    assert [p["error_code"] for p in r["topics"][0]["partitions"]] == [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    r = _commit(raw, g, topic_name, [(1, 3)], metadata="x" * 5000)
    assert r["topics"][0]["partitions"][0]["error_code"] == ErrorCode.OFFSET_METADATA_TOO_LARGE

    def member_commit(group):
        return _commit(raw, group, topic_name, [(0, 1)], generation=4, member_id="m", version=2)["topics"][0][
            "partitions"
        ][0]["error_code"]

    assert member_commit(g) == ErrorCode.UNKNOWN_MEMBER_ID  # the group exists (Empty), "m" is no member
    assert member_commit(group_id()) == ErrorCode.ILLEGAL_GENERATION  # no group: a generation cannot match
    p = _fetch(raw, g, [{"name": topic_name, "partition_indexes": [0]}])["topics"][0]["partitions"][0]
    assert (p["committed_offset"], p["committed_leader_epoch"]) == (5, 0)
    everything = _fetch(raw, g, None)  # v2+: null topics = every committed partition
    assert [(t["name"], [x["partition_index"] for x in t["partitions"]]) for t in everything["topics"]] == [
        (topic_name, [0])
    ]
    assert (
        _fetch(raw, g, [{"name": topic_name, "partition_indexes": [0]}], version=1)["topics"][0]["partitions"][0][
            "committed_offset"
        ]
        == 5
    )
    listed = raw.request(LIST, 2, {})
    assert (g, "") in [(x["group_id"], x["protocol_type"]) for x in listed["groups"]]
    res = raw.request(DELETE, 1, {"groups_names": [g, "no-such-group"]})["results"]
    assert [x["error_code"] for x in res] == [0, ErrorCode.GROUP_ID_NOT_FOUND]
    assert (
        _fetch(raw, g, [{"name": topic_name, "partition_indexes": [0]}])["topics"][0]["partitions"][0][
            "committed_offset"
        ]
        == -1
    )
    assert raw.request(DESCRIBE, 0, {"groups": [g]})["groups"][0]["group_state"] == "Dead"


def test_requests_naming_groups_of_several_coordinators(gbroker, raw, topic_name):
    """In multi-process mode the groups below are coordinated by both handlers: ListGroups asks
    every handler, DescribeGroups and DeleteGroups are split by coordinator and their answers
    come back in the order of the request."""
    create_topic(gbroker.bootstrap, topic_name, 1)
    groups = groups_on_every_handler()  # handler 0, handler 1, handler 0, handler 1
    assert raw.request(FIND_COORDINATOR, 2, {"key": groups[1], "key_type": 0})["error_code"] == 0
    for i, g in enumerate(groups):
        assert _commit(raw, g, topic_name, [(0, i + 1)])["topics"][0]["partitions"][0]["error_code"] == 0
    for version in (0, 1, 2):
        listed = raw.request(LIST, version, {})
        ids = [x["group_id"] for x in listed["groups"]]
        assert listed["error_code"] == 0 and set(groups) <= set(ids) and len(ids) == len(set(ids))
    unknown = group_id()
    asked = [groups[1], groups[0], unknown, groups[3], groups[1], groups[2]]
    for version in (0, 4):
        described = raw.request(DESCRIBE, version, {"groups": asked, "include_authorized_operations": False})
        assert [(d["group_id"], d["error_code"], d["group_state"]) for d in described["groups"]] == [
            (g, 0, "Dead" if g == unknown else "Empty") for g in asked
        ]
    assert raw.request(DESCRIBE, 4, {"groups": []})["groups"] == []
    res = raw.request(DELETE, 1, {"groups_names": [groups[3], unknown, groups[0]]})["results"]
    assert [(r["group_id"], r["error_code"]) for r in res] == [
        (groups[3], 0),
        (unknown, ErrorCode.GROUP_ID_NOT_FOUND),
        (groups[0], 0),
    ]
    listed = {x["group_id"] for x in raw.request(LIST, 2, {})["groups"]}
    assert groups[0] not in listed and groups[3] not in listed and {groups[1], groups[2]} <= listed
    for i in (1, 2):
        p = _fetch(raw, groups[i], [{"name": topic_name, "partition_indexes": [0]}])["topics"][0]["partitions"][0]
        assert p["committed_offset"] == i + 1


def test_kafka_admin_client_sees_groups_of_every_coordinator(gbroker, topic_name):
    """confluent-kafka's AdminClient against groups coordinated by both handlers (in
    multi-process mode): it lists them all, describes them, deletes them, and reads offsets."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    create_topic(gbroker.bootstrap, topic_name, 1)
    groups = groups_on_every_handler()
    with RawClient(gbroker.bootstrap) as raw:
        assert raw.request(FIND_COORDINATOR, 2, {"key": groups[1], "key_type": 0})["error_code"] == 0
        for i, g in enumerate(groups):
            assert _commit(raw, g, topic_name, [(0, 10 + i)])["topics"][0]["partitions"][0]["error_code"] == 0
    admin = AdminClient({"bootstrap.servers": gbroker.bootstrap})
    listed = admin.list_consumer_groups(request_timeout=10).result()
    assert set(groups) <= {g.group_id for g in listed.valid}
    described = admin.describe_consumer_groups(groups, request_timeout=10)
    assert {g: f.result().state.name for g, f in described.items()} == {g: "EMPTY" for g in groups}
    for i, g in enumerate(groups):
        fut = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g, [TopicPartition(topic_name, 0)])])
        assert fut[g].result().topic_partitions[0].offset == 10 + i
    deleted = admin.delete_consumer_groups(groups[:3], request_timeout=10)
    for f in deleted.values():
        f.result()
    left = {g.group_id for g in admin.list_consumer_groups(request_timeout=10).result().valid}
    assert groups[3] in left and not set(groups[:3]) & left


def test_list_groups_by_state_and_type(gbroker, topic_name):
    """ListGroups v4 filters by state and answers it (KIP-518), v5 by type (KIP-848): through
    confluent-kafka's list_consumer_groups(states=...), with groups on every coordinator."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    from .groupclients import confluent_consumer, wait_until

    create_topic(gbroker.bootstrap, topic_name, 1)
    empty = groups_on_every_handler()
    with RawClient(gbroker.bootstrap) as raw:
        for g in empty:
            assert _commit(raw, g, topic_name, [(0, 1)])["topics"][0]["partitions"][0]["error_code"] == 0
    live = group_id()
    c = confluent_consumer(gbroker.bootstrap, live)
    try:
        c.subscribe([topic_name])
        assert wait_until(lambda: (c.poll(0.1), c.assignment())[1], 30)
        admin = AdminClient({"bootstrap.servers": gbroker.bootstrap})

        def listed(states=None):
            r = admin.list_consumer_groups(states=states, request_timeout=10).result()
            return {g.group_id: g.state for g in r.valid if g.group_id in empty + [live]}

        assert listed() == {**{g: ConsumerGroupState.EMPTY for g in empty}, live: ConsumerGroupState.STABLE}
        assert listed({ConsumerGroupState.STABLE}) == {live: ConsumerGroupState.STABLE}
        assert listed({ConsumerGroupState.EMPTY}) == {g: ConsumerGroupState.EMPTY for g in empty}
        assert listed({ConsumerGroupState.EMPTY, ConsumerGroupState.STABLE}).keys() == set(empty + [live])
        with RawClient(gbroker.bootstrap) as raw:

            def ask(version, **filters):
                r = raw.request(LIST, version, filters)
                assert r["error_code"] == 0
                return {g["group_id"]: g for g in r["groups"] if g["group_id"] in empty + [live]}

            assert set(ask(4, states_filter=["stable"])) == {live}  # names compare case-insensitively
            assert ask(4, states_filter=["NoSuchState"]) == {}
            got = ask(5, states_filter=[], types_filter=["classic"])
            assert set(got) == set(empty + [live]) and {g["group_type"] for g in got.values()} == {"classic"}
            assert got[live]["group_state"] == "Stable" and got[live]["protocol_type"] == "consumer"
            assert ask(5, states_filter=[], types_filter=["consumer"]) == {}
            assert set(ask(2)) == set(empty + [live])  # before v4: no filter, no state
    finally:
        c.close()
