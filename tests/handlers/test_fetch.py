"""Fetch through the request path on a LocalBroker: the errors Kafka answers per partition, the
session refusal, and the long poll woken by an append or ended by max_wait_ms."""

import asyncio
import time

import pytest

from hpbroker.protocol.errors import ErrorCode
from hpbroker.records.builder import build_batch
from hpbroker.testing import wait_until_async

FETCH, PRODUCE = 1, 0


def _fetch(partitions, version=11, max_wait_ms=0, min_bytes=1, session_epoch=-1, topic="t"):
    return {
        "replica_id": -1,
        "max_wait_ms": max_wait_ms,
        "min_bytes": min_bytes,
        "max_bytes": 1 << 20,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": session_epoch,
        "rack_id": "",
        "forgotten_topics_data": [],
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": p,
                        "current_leader_epoch": epoch,
                        "fetch_offset": offset,
                        "log_start_offset": -1,
                        "partition_max_bytes": 1 << 20,
                    }
                    for p, offset, epoch in partitions
                ],
            }
        ],
    }


def _produce(harness, partition, values, topic="t"):
    r = harness.request(
        PRODUCE,
        8,
        {
            "transactional_id": None,
            "acks": 1,
            "timeout_ms": 1000,
            "topic_data": [{"name": topic, "partition_data": [{"index": partition, "records": build_batch(values)}]}],
        },
    )
    assert r["responses"][0]["partition_responses"][0]["error_code"] == 0


def _codes(answer):
    return [(p["partition_index"], p["error_code"]) for t in answer["responses"] for p in t["partitions"]]


@pytest.fixture
def broker(harness):
    harness.create_topic("t", 2)
    _produce(harness, 0, [b"a", b"b"])
    return harness


def test_every_partition_answers_with_its_own_error(broker):
    r = broker.request(FETCH, 11, _fetch([(0, 0, -1), (1, 0, -1), (7, 0, -1), (0, 5, -1), (0, 0, 1), (0, 0, 0)]))
    assert _codes(r) == [
        (0, 0),
        (1, 0),
        (7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
        (0, ErrorCode.OFFSET_OUT_OF_RANGE),
        (0, ErrorCode.UNKNOWN_LEADER_EPOCH),
        (0, 0),
    ]
    first = r["responses"][0]["partitions"][0]
    assert (first["high_watermark"], first["log_start_offset"], first["last_stable_offset"]) == (2, 0, 2)
    assert len(bytes(first["records"])) > 0
    assert bytes(r["responses"][0]["partitions"][1]["records"]) == b""  # nothing in partition 1
    missing = broker.request(FETCH, 11, _fetch([(0, 0, -1)], topic="nope"))
    assert _codes(missing) == [(0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]


def test_an_older_leader_epoch_is_fenced(harness):
    harness.create_topic("t", 1)
    harness.partition("t", 0).leader_epoch = 3
    r = harness.request(FETCH, 11, _fetch([(0, 0, 2), (0, 0, 4), (0, 0, 3)]))
    assert [c for _, c in _codes(r)] == [ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH, 0]


def test_an_incremental_fetch_names_a_session_we_never_granted(broker):
    r = broker.request(FETCH, 11, _fetch([(0, 0, -1)], session_epoch=1))
    assert r["error_code"] == ErrorCode.FETCH_SESSION_ID_NOT_FOUND and r["responses"] == []


def test_a_zstd_topic_is_refused_to_fetch_before_v10(harness):
    harness.create_topic("z", 1, {"compression.type": "zstd"})
    assert _codes(harness.request(FETCH, 9, _fetch([(0, 0, -1)], version=9, topic="z"))) == [
        (0, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
    ]
    assert _codes(harness.request(FETCH, 10, _fetch([(0, 0, -1)], version=10, topic="z"))) == [(0, 0)]


def test_a_long_poll_waits_for_an_append_and_a_quiet_one_for_max_wait(broker):
    async def main():
        waiting = asyncio.ensure_future(broker.arequest(FETCH, 11, _fetch([(1, 0, -1)], max_wait_ms=10_000)))
        purgatory = broker.broker.replica_manager.fetch_purgatory
        await wait_until_async(lambda: len(purgatory) == 1, 5, "the Fetch to park in the fetch purgatory")
        assert not waiting.done()
        await broker.arequest(
            PRODUCE,
            8,
            {
                "transactional_id": None,
                "acks": 1,
                "timeout_ms": 1000,
                "topic_data": [{"name": "t", "partition_data": [{"index": 1, "records": build_batch([b"late"])}]}],
            },
        )
        answer = await asyncio.wait_for(waiting, 5)
        assert _codes(answer) == [(1, 0)] and len(bytes(answer["responses"][0]["partitions"][0]["records"])) > 0
        t0 = time.monotonic()
        quiet = await broker.arequest(FETCH, 11, _fetch([(1, 1, -1)], max_wait_ms=200))
        assert time.monotonic() - t0 >= 0.15 and bytes(quiet["responses"][0]["partitions"][0]["records"]) == b""

    broker.run(main())
