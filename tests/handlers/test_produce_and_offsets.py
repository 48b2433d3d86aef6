"""Produce, ListOffsets and DeleteRecords through the request path on a LocalBroker: the errors
Kafka answers per partition, and acks=0's closed connection instead of an answer."""

import pytest

from hpbroker.protocol.errors import ErrorCode
from hpbroker.records.builder import build_batch
from hpbroker.request_path import Refused

PRODUCE, LIST_OFFSETS, DELETE_RECORDS = 0, 2, 21
LATEST, EARLIEST, MAX_TIMESTAMP = -1, -2, -3


def _produce(harness, topic, partitions, acks=1, records=None):
    body = {
        "transactional_id": None,
        "acks": acks,
        "timeout_ms": 1000,
        "topic_data": [
            {
                "name": topic,
                "partition_data": [
                    {"index": p, "records": records or build_batch([(None, b"v", (), 1000 + p)])} for p in partitions
                ],
            }
        ],
    }
    r = harness.request(PRODUCE, 8, body)
    return None if r is None else [(p["index"], p["error_code"]) for p in r["responses"][0]["partition_responses"]]


def _list(harness, topic, partitions, version=7):
    r = harness.request(
        LIST_OFFSETS,
        version,
        {
            "replica_id": -1,
            "isolation_level": 0,
            "topics": [
                {
                    "name": topic,
                    "partitions": [
                        {"partition_index": p, "current_leader_epoch": epoch, "timestamp": ts}
                        for p, ts, epoch in partitions
                    ],
                }
            ],
        },
    )
    return [(p["error_code"], p["offset"], p["timestamp"]) for p in r["topics"][0]["partitions"]]


@pytest.fixture
def broker(harness):
    harness.create_topic("t", 2)
    return harness


def test_produce_errors(broker):
    assert _produce(broker, "t", [0, 1, 9]) == [(0, 0), (1, 0), (9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]
    assert _produce(broker, "nope", [0]) == [(0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]
    assert _produce(broker, "t", [0], acks=2) == [(0, ErrorCode.INVALID_REQUIRED_ACKS)]
    broker.run(broker.broker.group_coordinator.start())  # __consumer_offsets: written by its coordinator only
    assert _produce(broker, "__consumer_offsets", [0]) == [(0, ErrorCode.INVALID_TOPIC_EXCEPTION)]
    corrupt = bytearray(build_batch([b"x"]))
    corrupt[-1] ^= 0xFF  # the CRC no longer matches
    assert _produce(broker, "t", [0], records=corrupt) == [(0, ErrorCode.CORRUPT_MESSAGE)]


def test_acks_all_needs_min_insync_replicas_within_the_isr(broker):
    broker.create_topic("safe", 1, {"min.insync.replicas": "2"})
    assert _produce(broker, "safe", [0], acks=-1) == [(0, ErrorCode.NOT_ENOUGH_REPLICAS)]
    assert _produce(broker, "safe", [0], acks=1) == [(0, 0)]


def test_acks_0_has_no_answer_and_a_failure_closes_the_connection(broker):
    assert _produce(broker, "t", [0], acks=0) is None
    with pytest.raises(Refused, match="acks=0 produce failed"):
        _produce(broker, "nope", [0], acks=0)


def test_list_offsets_by_spec_and_its_errors(broker):
    _produce(broker, "t", [0])
    _produce(broker, "t", [0])
    assert _list(broker, "t", [(0, EARLIEST, -1), (0, LATEST, -1), (0, 1000, -1), (0, 99999, -1)]) == [
        (0, 0, -1),
        (0, 2, -1),
        (0, 0, 1000),
        (0, -1, -1),
    ]
    assert _list(broker, "t", [(0, MAX_TIMESTAMP, -1)])[0][0] == 0
    assert _list(broker, "t", [(5, LATEST, -1), (0, -7, -1), (0, LATEST, 1), (1, LATEST, 0)]) == [
        (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1),
        (ErrorCode.INVALID_REQUEST, -1, -1),
        (ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1),
        (0, 0, -1),
    ]
    broker.partition("t", 1).leader_epoch = 2
    assert _list(broker, "t", [(1, LATEST, 1)])[0][0] == ErrorCode.FENCED_LEADER_EPOCH


def test_delete_records_moves_the_log_start_within_the_high_watermark(broker):
    for _ in range(3):
        _produce(broker, "t", [0])

    def delete(partition, offset, topic="t"):
        r = broker.request(
            DELETE_RECORDS,
            1,
            {
                "timeout_ms": 1000,
                "topics": [{"name": topic, "partitions": [{"partition_index": partition, "offset": offset}]}],
            },
        )
        p = r["topics"][0]["partitions"][0]
        return p["error_code"], p["low_watermark"]

    assert delete(0, 9) == (ErrorCode.OFFSET_OUT_OF_RANGE, -1)
    assert delete(0, 2) == (0, 2)
    assert delete(0, -1) == (0, 3)  # -1: up to the high watermark
    assert delete(4, 0) == (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1)
    assert _list(broker, "t", [(0, EARLIEST, -1)]) == [(0, 3, -1)]
