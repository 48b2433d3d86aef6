"""Metadata and the controller's APIs (CreateTopics, DeleteTopics, CreatePartitions,
InitProducerId) through the request path: auto-creation, the errors Kafka answers, and a broker
that is not the controller (NOT_CONTROLLER; Metadata cannot auto-create there)."""

import pytest

from hpbroker.protocol.errors import ErrorCode
from tests.handlers.harness import BrokerHarness

METADATA, CREATE_TOPICS, DELETE_TOPICS, INIT_PRODUCER_ID, CREATE_PARTITIONS = 3, 19, 20, 22, 37


def _metadata(harness, names, allow=True, version=8):
    body = {
        "topics": None if names is None else [{"name": n} for n in names],
        "allow_auto_topic_creation": allow,
        "include_cluster_authorized_operations": False,
        "include_topic_authorized_operations": False,
    }
    return harness.request(METADATA, version, body)


def _codes(md):
    return [(t["name"], t["error_code"]) for t in md["topics"]]


def _create(harness, *topics, validate_only=False):
    r = harness.request(
        CREATE_TOPICS,
        4,
        {
            "timeout_ms": 1000,
            "validate_only": validate_only,
            "topics": [
                {
                    "name": name,
                    "num_partitions": n,
                    "replication_factor": rf,
                    "assignments": [],
                    "configs": [{"name": k, "value": v} for k, v in (configs or {}).items()],
                }
                for name, n, rf, configs in topics
            ],
        },
    )
    return [(t["name"], t["error_code"]) for t in r["topics"]]


def test_metadata_auto_creates_a_missing_topic_and_answers_it_next_time(tmp_path):
    harness = BrokerHarness(tmp_path, {"num.partitions": "3"})
    try:
        _auto_creation(harness)
    finally:
        harness.close()


def _auto_creation(harness):
    md = _metadata(harness, ["fresh", "bad name!", "x"], allow=True)
    assert _codes(md) == [
        ("fresh", ErrorCode.LEADER_NOT_AVAILABLE),
        ("bad name!", ErrorCode.INVALID_TOPIC_EXCEPTION),
        ("x", ErrorCode.LEADER_NOT_AVAILABLE),
    ]
    assert md["brokers"] == [{"node_id": 0, "host": "localhost", "port": 9092, "rack": None}]
    assert md["controller_id"] == 0
    again = _metadata(harness, ["fresh"])
    (topic,) = again["topics"]
    assert topic["error_code"] == 0 and len(topic["partitions"]) == 3
    assert [(p["leader_id"], p["leader_epoch"], p["replica_nodes"], p["isr_nodes"]) for p in topic["partitions"]] == [
        (0, 0, [0], [0])
    ] * 3
    assert _codes(_metadata(harness, ["other"], allow=False)) == [("other", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]
    assert [t["name"] for t in _metadata(harness, None)["topics"]] == ["fresh", "x"]
    assert [t["name"] for t in _metadata(harness, [], version=0)["topics"]] == ["fresh", "x"]  # v0: [] is all
    assert _metadata(harness, [], version=1)["topics"] == []


def test_metadata_does_not_create_when_disabled(tmp_path):
    h = BrokerHarness(tmp_path, {"auto.create.topics.enable": "false"})
    try:
        assert _codes(_metadata(h, ["t"])) == [("t", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]
        assert "t" not in h.topics
    finally:
        h.close()


def test_metadata_does_not_create_without_room_for_the_partitions(harness, monkeypatch):
    monkeypatch.setattr("hpbroker.controller.local.partition_room", lambda: 0)  # out of open files
    assert _codes(_metadata(harness, ["t"])) == [("t", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]
    assert "t" not in harness.topics


def test_create_topics_errors(harness):
    assert _create(
        harness,
        ("a", 2, 1, None),
        ("b", 0, 1, None),
        ("c", 1, 3, None),
        ("bad/name", 1, 1, None),
        ("d", 1, 1, {"retention.ms": "soon"}),
        ("e", 1, 1, {"no.such.config": "1"}),
    ) == [
        ("a", 0),
        ("b", ErrorCode.INVALID_PARTITIONS),
        ("c", ErrorCode.INVALID_REPLICATION_FACTOR),
        ("bad/name", ErrorCode.INVALID_TOPIC_EXCEPTION),
        ("d", ErrorCode.INVALID_CONFIG),
        ("e", ErrorCode.INVALID_CONFIG),
    ]
    assert _create(harness, ("a", 1, 1, None)) == [("a", ErrorCode.TOPIC_ALREADY_EXISTS)]
    assert _create(harness, ("f", 1, 1, None), ("f", 1, 1, None)) == [("f", ErrorCode.INVALID_REQUEST)] * 2
    assert _create(harness, ("g", 1, 1, None), validate_only=True) == [("g", 0)]
    assert set(harness.topics.topics) == {"a"}


def test_delete_topics_and_create_partitions_errors(harness):
    _create(harness, ("a", 2, 1, None))
    harness.run(harness.broker.group_coordinator.start())

    def delete(*names):
        r = harness.request(DELETE_TOPICS, 3, {"topic_names": list(names), "timeout_ms": 1000})
        return [(t["name"], t["error_code"]) for t in r["responses"]]

    def grow(name, count):
        r = harness.request(
            CREATE_PARTITIONS,
            1,
            {
                "topics": [{"name": name, "count": count, "assignments": None}],
                "timeout_ms": 1000,
                "validate_only": False,
            },
        )
        return r["results"][0]["error_code"]

    assert grow("a", 2) == ErrorCode.INVALID_PARTITIONS and grow("nope", 3) == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert grow("__consumer_offsets", 80) == ErrorCode.INVALID_REQUEST
    assert grow("a", 4) == 0 and harness.partition("a", 3) is not None
    assert delete("a", "nope", "__consumer_offsets") == [
        ("a", 0),
        ("nope", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
        ("__consumer_offsets", ErrorCode.INVALID_TOPIC_EXCEPTION),
    ]
    assert "a" not in harness.topics and harness.partition("a", 0) is None


def test_producer_ids_are_new_each_time_and_a_transactional_id_keeps_its_own(harness):
    first = harness.request(INIT_PRODUCER_ID, 1, {"transactional_id": None, "transaction_timeout_ms": -1})
    second = harness.request(INIT_PRODUCER_ID, 1, {"transactional_id": None, "transaction_timeout_ms": -1})
    assert first["error_code"] == second["error_code"] == 0 and second["producer_id"] > first["producer_id"]
    txn = harness.request(INIT_PRODUCER_ID, 1, {"transactional_id": "tx", "transaction_timeout_ms": 1000})
    again = harness.request(INIT_PRODUCER_ID, 1, {"transactional_id": "tx", "transaction_timeout_ms": 1000})
    assert txn["error_code"] == again["error_code"] == 0
    assert (again["producer_id"], again["producer_epoch"]) == (txn["producer_id"], txn["producer_epoch"] + 1)


def test_a_broker_that_is_not_the_controller_refuses_changes(tmp_path):
    h = BrokerHarness(tmp_path, controller=False)
    try:
        assert _create(h, ("a", 1, 1, None)) == [("a", ErrorCode.NOT_CONTROLLER)]
        assert (
            h.request(INIT_PRODUCER_ID, 1, {"transactional_id": None, "transaction_timeout_ms": -1})["error_code"]
            == ErrorCode.NOT_CONTROLLER
        )
        assert _codes(_metadata(h, ["auto"])) == [("auto", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]
        assert h.topics.topics == {}
    finally:
        h.close()


@pytest.mark.parametrize("resource", [(2, "nope"), (4, "7")])
def test_alter_configs_of_what_is_not_here(harness, resource):
    rtype, name = resource
    r = harness.request(
        33,
        1,
        {
            "validate_only": False,
            "resources": [
                {"resource_type": rtype, "resource_name": name, "configs": [{"name": "retention.ms", "value": "1"}]}
            ],
        },
    )
    assert r["responses"][0]["error_code"] in (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_REQUEST)
