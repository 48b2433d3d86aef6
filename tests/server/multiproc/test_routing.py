"""Routing table: ownership is stable, groups land where Kafka puts them, split answers join."""

from hpbroker.broker import routes
from hpbroker.broker.routes import owned_request
from hpbroker.handlers import REGISTRY
from hpbroker.server.multiproc import routing


def test_owner_is_stable_and_spreads():
    # zlib.crc32, not Python's salted hash: the same in every process and after a restart
    assert routing.owner("orders", 0, 16) == routing.owner("orders", 0, 16)
    for topic in ("t", "orders", "a", "b"):
        # consecutive partitions go to consecutive handlers: an even split
        assert sorted(routing.owner(topic, p, 4) for p in range(8)) == [0, 0, 1, 1, 2, 2, 3, 3]
        assert {routing.owner(topic, p, 2) for p in range(2)} == {0, 1}


def test_owner_known_values():
    import zlib

    assert routing.owner("orders", 3, 7) == (zlib.crc32(b"orders") + 3) % 7


def test_group_coordinators_spread_over_the_handlers():
    # the group's __consumer_offsets partition is Kafka's (hpbroker.coordinator.records is
    # tested against Java's hashCode); those partitions, and with them the coordinator shards,
    # are owned round-robin like any topic's
    from hpbroker.coordinator.records import partition_for

    for handlers in (2, 3, 4):
        owners = [routing.owner("__consumer_offsets", p, handlers) for p in range(50)]
        assert set(owners) == set(range(handlers))
        assert max(owners.count(h) for h in range(handlers)) - min(owners.count(h) for h in range(handlers)) <= 1
    for group in ("abc", "consumer-group-with-a-long-name", ""):
        assert routing.group_owner(group, 50, 4) == routing.owner("__consumer_offsets", partition_for(group, 50), 4)
    assert {routing.group_owner(f"g{i}", 50, 2) for i in range(10)} == {0, 1}
    assert routing.route_for(15).kind == routes.GROUPS  # DescribeGroups
    assert routing.route_for(42).kind == routes.GROUPS  # DeleteGroups
    assert routing.route_for(16).kind == routes.EVERY  # ListGroups


def test_split_groups_and_join_their_answers_in_request_order():
    split = routing.route_for(15).groups
    request = {"groups": ["a", "b", "c", "a", "d"], "include_authorized_operations": False}
    owner_of = {"a": 1, "b": 0, "c": 1, "d": 2}.get
    subs = routing.split_groups(request, split, owner_of)
    assert list(subs) == [1, 0, 2]
    assert subs[1] == {"groups": ["a", "c", "a"], "include_authorized_operations": False}
    assert subs[0]["groups"] == ["b"] and subs[2]["groups"] == ["d"]
    assert request["groups"] == ["a", "b", "c", "a", "d"]  # the original is left alone

    def answer(ids, tag):
        return {"throttle_time_ms": 0, "groups": [{"group_id": g, "tag": tag, "n": i} for i, g in enumerate(ids)]}

    parts = [answer(subs[2]["groups"], 2), answer(subs[0]["groups"], 0), answer(subs[1]["groups"], 1)]
    joined = routing.join_group_answers(request["groups"], split, parts)
    assert [(g["group_id"], g["tag"], g["n"]) for g in joined["groups"]] == [
        ("a", 1, 0),
        ("b", 0, 0),
        ("c", 1, 1),
        ("a", 1, 2),
        ("d", 2, 0),
    ]
    # DeleteGroups names its fields differently
    delete = routing.route_for(42).groups
    subs = routing.split_groups({"groups_names": ["x", "y"]}, delete, {"x": 0, "y": 1}.get)
    joined = routing.join_group_answers(
        ["x", "y"],
        delete,
        [
            {"throttle_time_ms": 0, "results": [{"group_id": "y", "error_code": 69}]},
            {"throttle_time_ms": 0, "results": [{"group_id": "x", "error_code": 0}]},
        ],
    )
    assert joined["results"] == [{"group_id": "x", "error_code": 0}, {"group_id": "y", "error_code": 69}]


def test_join_every_concatenates_and_keeps_the_first_error():
    joined = routing.join_every(
        [
            {"throttle_time_ms": 0, "error_code": 0, "groups": [{"group_id": "a"}]},
            {"throttle_time_ms": 0, "error_code": 15, "groups": []},
            {"throttle_time_ms": 0, "error_code": 0, "groups": [{"group_id": "b"}, {"group_id": "c"}]},
        ]
    )
    assert joined == {
        "throttle_time_ms": 0,
        "error_code": 15,
        "groups": [{"group_id": "a"}, {"group_id": "b"}, {"group_id": "c"}],
    }
    v0 = routing.join_every([{"error_code": 0, "groups": []}, {"error_code": 0, "groups": [{"group_id": "z"}]}])
    assert v0 == {"error_code": 0, "groups": [{"group_id": "z"}]}


def test_metadata_and_find_coordinator_are_served_by_the_processor():
    # what only the controller may do (creating a topic) the processor's broker asks of it
    # (tests/server/multiproc/test_processor_controller.py); the request itself stays in the processor
    assert routing.route_for(3).kind == routes.PROCESSOR
    assert routing.route_for(10).kind == routes.PROCESSOR


def test_the_table_is_the_modules_declarations_with_no_default():
    import pytest

    assert set(routing.ROUTES) == set(REGISTRY)
    for key, module in REGISTRY.items():
        assert routing.route_for(key) is module.ROUTE
    assert routing.route_for(1).kind == routes.FETCH
    assert routing.route_for(3).kind == routes.PROCESSOR
    assert routing.route_for(18).kind == routes.PROCESSOR
    with pytest.raises(KeyError):
        routing.route_for(999)  # no default route: an API nobody declared is not routed


def _produce(parts):
    return {
        "acks": 1,
        "timeout_ms": 1000,
        "transactional_id": None,
        "topic_data": [{"name": t, "partition_data": [{"index": i, "records": b""} for i in ps]} for t, ps in parts],
    }


def test_owned_request_and_join_keep_request_order():
    split = routing.route_for(0).split
    request = _produce([("a", [0, 1, 2, 3]), ("b", [5, 4])])
    handlers = 2
    owners = routing.owners_of(request, split, handlers)
    assert sorted(owners) == [0, 1]
    parts = []
    for h in owners:
        mine = owned_request(request, split, lambda t, p, h=h: routing.owner(t, p, handlers) == h)
        parts.append(
            {
                "throttle_time_ms": 0,
                "responses": [
                    {
                        "name": t["name"],
                        "partition_responses": [
                            {"index": p["index"], "error_code": 0, "base_offset": h} for p in t["partition_data"]
                        ],
                    }
                    for t in mine["topic_data"]
                ],
            }
        )
    joined = routing.join_responses(request, split, parts)
    assert [t["name"] for t in joined["responses"]] == ["a", "b"]
    assert [p["index"] for p in joined["responses"][0]["partition_responses"]] == [0, 1, 2, 3]
    assert [p["index"] for p in joined["responses"][1]["partition_responses"]] == [5, 4]
    for t in joined["responses"]:
        for p in t["partition_responses"]:
            assert p["base_offset"] == routing.owner(t["name"], p["index"], handlers)


def test_split_by_owner_is_owned_request_per_owner_and_shares_partitions():
    split = routing.route_for(0).split
    request = _produce([("a", [0, 1, 2, 3]), ("b", [5, 4]), ("c", [])])
    subs = routing.split_by_owner(request, split, 2)
    assert list(subs) == routing.owners_of(request, split, 2)
    for h, sub in subs.items():
        assert sub == owned_request(request, split, lambda t, p, h=h: routing.owner(t, p, 2) == h)
        for t in sub["topic_data"]:
            for p in t["partition_data"]:  # the request's own partition dicts, not copies
                assert any(p is q for u in request["topic_data"] for q in u["partition_data"])
    order = routing.partition_order(request, split)
    assert order == {
        "topic_data": [
            {"name": "a", "partition_data": [{"index": i} for i in (0, 1, 2, 3)]},
            {"name": "b", "partition_data": [{"index": 5}, {"index": 4}]},
            {"name": "c", "partition_data": []},
        ]
    }


def _produce_frame(version, topics, client_id="c", transactional_id=None):
    from hpbroker import protocol

    body = {
        "acks": -1,
        "timeout_ms": 1000,
        "transactional_id": transactional_id,
        "topic_data": [
            {"name": t, "partition_data": [{"index": i, "records": b"r" * 10} for i in ps]} for t, ps in topics
        ],
    }
    return protocol.encode_request(0, version, 5, client_id, body)[4:]


def test_produce_first_partition_reads_only_the_prefix():
    for version in range(3, 9):
        frame = _produce_frame(version, [("événements", [7, 1]), ("b", [0])], transactional_id="tx")
        assert routing.produce_first_partition(frame) == (version, "événements", 7)
        # the prefix ends with the first index: the bytes after it are not needed
        cut = frame.index("événements".encode()) + len("événements".encode()) + 8
        assert routing.produce_first_partition(frame[:cut]) == (version, "événements", 7)
        assert routing.produce_first_partition(frame[: cut - 1]) is None
    assert routing.produce_first_partition(_produce_frame(3, [("t", [0])], client_id=None)) == (3, "t", 0)


def test_produce_first_partition_doubts_everything_else():
    from hpbroker import protocol

    assert routing.produce_first_partition(_produce_frame(9, [("t", [0])])) is None  # flexible
    assert routing.produce_first_partition(_produce_frame(8, [])) is None
    assert routing.produce_first_partition(_produce_frame(8, [("t", [])])) is None
    metadata = protocol.encode_request(3, 1, 5, "c", {"topics": None})[4:]
    assert routing.produce_first_partition(metadata) is None
    frame = bytearray(_produce_frame(8, [("t", [0])]))
    frame[8:10] = b"\xff\xf0"  # client_id length -16
    assert routing.produce_first_partition(frame) is None
    assert routing.produce_first_partition(b"") is None


def test_a_split_over_bare_partition_indexes():
    """DescribeProducers lists partitions as an int32 array, not as structs: split, owned
    request, order and join work on the bare indexes."""
    split = routing.route_for(61).split
    assert split.req_index is None
    request = {"topics": [{"name": "a", "partition_indexes": [3, 0, 1, 2]}, {"name": "b", "partition_indexes": [1]}]}
    subs = routing.split_by_owner(request, split, 2)
    assert sorted(subs) == sorted(routing.owners_of(request, split, 2)) == [0, 1]
    for h, sub in subs.items():
        assert sub == owned_request(request, split, lambda t, p, h=h: routing.owner(t, p, 2) == h)
        assert all(routing.owner(t["name"], p, 2) == h for t in sub["topics"] for p in t["partition_indexes"])
    order = routing.partition_order(request, split)
    assert order == request
    parts = [
        {
            "throttle_time_ms": 0,
            "topics": [
                {
                    "name": t["name"],
                    "partitions": [
                        {"partition_index": p, "error_code": 0, "active_producers": [h]} for p in t["partition_indexes"]
                    ],
                }
                for t in sub["topics"]
            ],
        }
        for h, sub in subs.items()
    ]
    joined = routing.join_responses(order, split, parts)
    assert [(t["name"], [p["partition_index"] for p in t["partitions"]]) for t in joined["topics"]] == [
        ("a", [3, 0, 1, 2]),
        ("b", [1]),
    ]
    assert all(
        p["active_producers"] == [routing.owner(t["name"], p["partition_index"], 2)]
        for t in joined["topics"]
        for p in t["partitions"]
    )


def _fetch(replica_id, parts, max_bytes=50 << 20, partition_max_bytes=10 << 20):
    return {
        "replica_id": replica_id,
        "max_wait_ms": 500,
        "min_bytes": 1,
        "max_bytes": max_bytes,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": t,
                "partitions": [
                    {
                        "partition": i,
                        "current_leader_epoch": 0,
                        "fetch_offset": 0,
                        "log_start_offset": 0,
                        "partition_max_bytes": partition_max_bytes,
                    }
                    for i in ps
                ],
            }
            for t, ps in parts
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }


def _frame(api_key, version, body):
    from hpbroker import protocol

    frame = protocol.encode_request(api_key, version, 7, "replica-fetcher-2", body)[4:]
    header, offset = protocol.decode_request_header(frame)
    return header, frame, offset


def test_a_follower_fetch_is_cut_by_owner_and_capped_to_a_ring_record():
    split = routing.route_for(1).split
    header, frame, offset = _frame(1, 11, _fetch(2, [("a", [0, 1, 2, 3]), ("b", [0, 1])]))
    assert routing.replica_id(frame, offset) == 2
    subs, order = routing.cut_replica_fetch(header, frame, offset, split, 2, 1 << 20)
    owners = {
        (t["topic"], p["partition"]): h for h, sub in subs.items() for t in sub["topics"] for p in t["partitions"]
    }
    assert owners == {(t, i): routing.owner(t, i, 2) for t, ps in [("a", [0, 1, 2, 3]), ("b", [0, 1])] for i in ps}
    for sub in subs.values():
        assert sub["max_bytes"] == 1 << 20 and sub["replica_id"] == 2
        assert {p["partition_max_bytes"] for t in sub["topics"] for p in t["partitions"]} == {1 << 20}
    # the answers are joined in request order
    parts = [
        {
            "throttle_time_ms": 0,
            "error_code": 0,
            "session_id": 0,
            "responses": [
                {"topic": t["topic"], "partitions": [{"partition_index": p["partition"]} for p in t["partitions"]]}
                for t in sub["topics"]
            ],
        }
        for sub in subs.values()
    ]
    joined = routing.join_responses(order, split, parts)
    assert [(t["topic"], [p["partition_index"] for p in t["partitions"]]) for t in joined["responses"]] == [
        ("a", [0, 1, 2, 3]),
        ("b", [0, 1]),
    ]


def test_a_consumer_fetch_has_no_replica_id_and_an_empty_follower_fetch_goes_to_handler_0():
    header, frame, offset = _frame(1, 11, _fetch(-1, [("a", [0])]))
    assert routing.replica_id(frame, offset) == -1
    assert routing.replica_id(frame[: offset + 2], offset) == -1  # cut short: the ordinary path says why
    header, frame, offset = _frame(1, 11, _fetch(3, []))
    subs, _ = routing.cut_replica_fetch(header, frame, offset, routing.route_for(1).split, 2, 1 << 20)
    assert list(subs) == [routing.CONTROLLER_HANDLER]
