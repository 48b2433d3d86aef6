"""Routing table: ownership is stable, groups land where Kafka puts them, split answers join."""
from hpbroker.handlers import REGISTRY
from hpbroker.server import routing


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


def test_groups_live_with_the_controller():
    # the group's __consumer_offsets partition is Kafka's (hpbroker.coordinator.records is
    # tested against Java's hashCode); every such partition is owned by the controller handler
    for group in ("abc", "consumer-group-with-a-long-name", ""):
        assert routing.group_owner(group, 50, 4) == routing.CONTROLLER_HANDLER
    assert all(routing.owner("__consumer_offsets", p, 3) == routing.CONTROLLER_HANDLER for p in range(50))
    for key in (15, 16, 42):  # DescribeGroups, ListGroups, DeleteGroups
        assert routing.route_for(key).kind == routing.CONTROLLER


def test_find_coordinator_is_local_once_the_offsets_topic_exists():
    from types import SimpleNamespace

    from hpbroker.server.processor_view import ProcessorBroker

    assert routing.route_for(10).kind == routing.LOCAL
    before = SimpleNamespace(topics={"orders": object()})
    after = SimpleNamespace(topics={"orders": object(), "__consumer_offsets": object()})
    group, txn = {"key": "g", "key_type": 0}, {"key": "t", "key_type": 1}
    # the first one creates __consumer_offsets: only the controller may
    assert ProcessorBroker.needs_controller(before, 10, group, 2) is True
    assert ProcessorBroker.needs_controller(after, 10, group, 2) is False
    assert ProcessorBroker.needs_controller(before, 10, txn, 2) is False  # answered locally
    assert ProcessorBroker.needs_controller(before, 10, {"key": "g"}, 0) is True  # v0: group


def test_every_registered_api_has_a_route_and_fetch_metadata_stay_local():
    for key in REGISTRY:
        assert routing.route_for(key).kind in (routing.LOCAL, routing.FETCH, routing.PARTITIONED,
                                               routing.CONTROLLER, routing.GROUP)
    assert routing.route_for(1).kind == routing.FETCH
    assert routing.route_for(3).kind == routing.LOCAL
    assert routing.route_for(18).kind == routing.LOCAL
    assert routing.route_for(999).kind == routing.CONTROLLER


def _produce(parts):
    return {"acks": 1, "timeout_ms": 1000, "transactional_id": None,
            "topic_data": [{"name": t, "partition_data": [{"index": i, "records": b""} for i in ps]}
                           for t, ps in parts]}


def test_owned_request_and_join_keep_request_order():
    split = routing.route_for(0).split
    request = _produce([("a", [0, 1, 2, 3]), ("b", [5, 4])])
    handlers = 2
    owners = routing.owners_of(request, split, handlers)
    assert sorted(owners) == [0, 1]
    parts = []
    for h in owners:
        mine = routing.owned_request(request, split, lambda t, p, h=h: routing.owner(t, p, handlers) == h)
        parts.append({"throttle_time_ms": 0, "responses": [
            {"name": t["name"], "partition_responses": [{"index": p["index"], "error_code": 0, "base_offset": h}
                                                        for p in t["partition_data"]]}
            for t in mine["topic_data"]]})
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
        assert sub == routing.owned_request(request, split, lambda t, p, h=h: routing.owner(t, p, 2) == h)
        for t in sub["topic_data"]:
            for p in t["partition_data"]:  # the request's own partition dicts, not copies
                assert any(p is q for u in request["topic_data"] for q in u["partition_data"])
    order = routing.partition_order(request, split)
    assert order == {"topic_data": [{"name": "a", "partition_data": [{"index": i} for i in (0, 1, 2, 3)]},
                                    {"name": "b", "partition_data": [{"index": 5}, {"index": 4}]},
                                    {"name": "c", "partition_data": []}]}


def _produce_frame(version, topics, client_id="c", transactional_id=None):
    from hpbroker import protocol
    body = {"acks": -1, "timeout_ms": 1000, "transactional_id": transactional_id, "topic_data": [
        {"name": t, "partition_data": [{"index": i, "records": b"r" * 10} for i in ps]} for t, ps in topics]}
    return protocol.encode_request(0, version, 5, client_id, body)[4:]


def test_produce_first_partition_reads_only_the_prefix():
    for version in range(3, 9):
        frame = _produce_frame(version, [("événements", [7, 1]), ("b", [0])], transactional_id="tx")
        assert routing.produce_first_partition(frame) == (version, "événements", 7)
        # the prefix ends with the first index: the bytes after it are not needed
        cut = frame.index("événements".encode()) + len("événements".encode()) + 8
        assert routing.produce_first_partition(frame[:cut]) == (version, "événements", 7)
        assert routing.produce_first_partition(frame[:cut - 1]) is None
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
