"""DescribeLogDirs v0-4 through the request path: sizes equal what the logs hold, the request's
topics select partitions as Kafka's ReplicaManager does, several log dirs, a dir gone from disk."""

import os
import shutil

import pytest

from hpbroker.handlers import describe_log_dirs
from hpbroker.protocol.errors import ErrorCode
from hpbroker.records.builder import build_batch
from tests.handlers.harness import BrokerHarness


def _broker(*dirs):
    return BrokerHarness(dirs[0], {"log.dirs": ",".join(str(d) for d in dirs)})


@pytest.fixture
def broker(harness):
    return harness


def _produce(broker, topic, partition, n=3, value_size=500):
    request = {
        "transactional_id": None,
        "acks": 1,
        "timeout_ms": 1000,
        "topic_data": [
            {"name": topic, "partition_data": [{"index": partition, "records": build_batch([b"x" * value_size] * n)}]}
        ],
    }
    r = broker.request(0, 8, request)
    assert r["responses"][0]["partition_responses"][0]["error_code"] == 0


def _describe(broker, topics, version=4):
    """Through the codec, as a client would read it."""
    return broker.request(35, version, {"topics": topics})


def _sizes(result):
    return {(t["name"], p["partition_index"]): p["partition_size"] for t in result["topics"] for p in t["partitions"]}


def test_every_partition_with_the_size_its_log_holds(broker, tmp_path):
    broker.create_topic("a", 2, {})
    broker.create_topic("b", 1, {})
    _produce(broker, "a", 0)
    _produce(broker, "a", 0, n=5)
    _produce(broker, "b", 0, n=1)
    got = _describe(broker, None)
    assert got["error_code"] == 0 and len(got["results"]) == 1
    result = got["results"][0]
    assert result["error_code"] == 0 and result["log_dir"] == os.path.abspath(tmp_path)
    expected = {(t, p): broker.partition(t, p).log.size_bytes for t, p in (("a", 0), ("a", 1), ("b", 0))}
    assert _sizes(result) == expected
    assert expected[("a", 0)] > expected[("b", 0)] > 0 and expected[("a", 1)] == 0
    assert all(p["offset_lag"] == 0 and p["is_future_key"] is False for t in result["topics"] for p in t["partitions"])
    assert 0 < result["usable_bytes"] <= result["total_bytes"]


def test_named_partitions_only_unknown_ones_left_out(broker):
    broker.create_topic("a", 3, {})
    broker.create_topic("b", 1, {})
    _produce(broker, "a", 2)
    result = _describe(broker, [{"topic": "a", "partitions": [2, 7]}, {"topic": "nope", "partitions": [0]}])["results"][
        0
    ]
    assert _sizes(result) == {("a", 2): broker.partition("a", 2).log.size_bytes}
    # as Kafka: a topic held in this dir is listed even when none of its partitions was asked for
    assert {t["name"]: len(t["partitions"]) for t in result["topics"]} == {"a": 1, "b": 0}
    assert _describe(broker, [])["results"][0]["topics"] == [
        {"name": "a", "partitions": []},
        {"name": "b", "partitions": []},
    ]


def test_every_version(broker):
    broker.create_topic("a", 1, {})
    _produce(broker, "a", 0)
    size = broker.partition("a", 0).log.size_bytes
    for version in range(0, 5):
        got = _describe(broker, None, version)
        result = got["results"][0]
        assert _sizes(result) == {("a", 0): size}
        if version < 4:  # not on the wire: the codec's defaults
            assert result["total_bytes"] == result["usable_bytes"] == -1
        else:
            assert result["total_bytes"] > 0


def test_several_log_dirs_each_partition_where_it_lives(tmp_path):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    b = _broker(d1, d2, d1)  # a dir named twice is one log dir
    try:
        b.create_topic("a", 4, {})
        for p in range(4):
            _produce(b, "a", p, n=p + 1)
        results = _describe(b, None)["results"]
        assert [r["log_dir"] for r in results] == [os.path.abspath(d1), os.path.abspath(d2)]
        seen = {}
        for r in results:
            for key in _sizes(r):
                seen[key] = r["log_dir"]
                assert os.path.isdir(os.path.join(r["log_dir"], f"{key[0]}-{key[1]}"))
        assert sorted(seen) == [("a", p) for p in range(4)]
        assert len(set(seen.values())) == 2  # new partitions go to the least loaded dir
        assert {k: v for r in results for k, v in _sizes(r).items()} == {
            ("a", p): b.partition("a", p).log.size_bytes for p in range(4)
        }
    finally:
        b.close()


def test_a_dir_gone_from_disk_answers_storage_error_the_others_answer(tmp_path):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    b = _broker(d1, d2)
    try:
        b.create_topic("a", 2, {})
        _produce(b, "a", 0)
        _produce(b, "a", 1)
        shutil.rmtree(d2)
        r1, r2 = _describe(b, None)["results"]
        assert r1["error_code"] == 0 and len(_sizes(r1)) == 1
        assert r2["error_code"] == ErrorCode.KAFKA_STORAGE_ERROR and r2["topics"] == []
    finally:
        b.close()


def test_partition_size_counts_segment_files_only(tmp_path):
    d = tmp_path / "t-0"
    d.mkdir()
    (d / "00000000000000000000.log").write_bytes(b"x" * 100)
    (d / "00000000000000000100.log").write_bytes(b"x" * 50)
    (d / "00000000000000000000.index").write_bytes(b"x" * 4096)
    (d / "leader-epoch-checkpoint.log").write_bytes(b"x" * 7)
    (d / "cleaning").mkdir()
    (d / "cleaning" / "00000000000000000000.log").write_bytes(b"x" * 1000)
    assert describe_log_dirs.partition_size(str(d)) == 150
    assert describe_log_dirs.partition_size(str(tmp_path / "gone")) is None
