"""A write the file system refuses (here ENOSPC halfway through a batch) answers that partition
KAFKA_STORAGE_ERROR and leaves the log and the producer's sequence state as they were: the retry
of an idempotent batch once space is back is appended once, and answered as a duplicate after."""

import errno
import os

import pytest

from hpbroker.protocol.errors import ErrorCode
from hpbroker.records import batch as rb
from hpbroker.records.builder import build_batch
from hpbroker.records.records import iter_batch_records
from hpbroker.storage import segment


@pytest.fixture
def broker(harness):
    harness.create_topic("t", 2)
    return harness


def _produce(broker, partition, values, seq):
    batch = build_batch(values, producer_id=7, producer_epoch=0, base_sequence=seq)
    request = {
        "transactional_id": None,
        "acks": -1,
        "timeout_ms": 1000,
        "topic_data": [{"name": "t", "partition_data": [{"index": partition, "records": batch}]}],
    }
    (p,) = broker.request(0, 8, request)["responses"][0]["partition_responses"]
    return p["error_code"], p["base_offset"], p["error_message"]


def _values(broker, partition):
    raw = broker.partition("t", partition).log.read_bytes(0, 1 << 20)
    out, pos = [], 0
    while pos < len(raw):
        h = rb.read_header(raw[pos:])
        out += [r.value for r in iter_batch_records(raw[pos : pos + h.size])]
        pos += h.size
    return out


def test_disk_full_midway_then_retry(broker, monkeypatch):
    # the producer id must be known to the broker's producer state: sequence 0 starts it
    assert _produce(broker, 0, [b"a"], 0)[:2] == (0, 0)
    real = os.pwrite
    calls = []

    def full_after_half(fd, data, offset):
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data[: len(data) // 2]), offset)  # a short write, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    log = broker.partition("t", 0).log
    size_before, leo_before = log.size_bytes, log.log_end_offset
    monkeypatch.setattr(segment.os, "pwrite", full_after_half)
    code, offset, message = _produce(broker, 0, [b"b", b"c"], 1)
    assert (code, offset) == (ErrorCode.KAFKA_STORAGE_ERROR, -1) and "No space left on device" in message
    assert len(calls) == 2
    assert (log.size_bytes, log.log_end_offset) == (size_before, leo_before)  # the torn half is gone
    assert os.path.getsize(log.active.log_path) == size_before  # one segment: the file holds them all
    assert _produce(broker, 1, [b"z"], 0)[0] == ErrorCode.KAFKA_STORAGE_ERROR  # every write fails meanwhile
    monkeypatch.setattr(segment.os, "pwrite", real)

    assert _produce(broker, 0, [b"b", b"c"], 1)[:2] == (0, 1)  # the retry: appended, not a duplicate
    assert _produce(broker, 0, [b"b", b"c"], 1)[:2] == (0, 1)  # once more: the duplicate's offsets
    assert _values(broker, 0) == [b"a", b"b", b"c"]
    assert _produce(broker, 1, [b"z"], 0)[:2] == (0, 0)


def test_offset_commit_on_a_full_disk_answers_not_coordinator(broker, monkeypatch):
    assert broker.run(broker.broker.group_coordinator.start())

    def commit(offset):
        req = {
            "group_id": "g",
            "generation_id_or_member_epoch": -1,
            "member_id": "",
            "group_instance_id": None,
            "retention_time_ms": -1,
            "topics": [
                {
                    "name": "t",
                    "partitions": [
                        {
                            "partition_index": 0,
                            "committed_offset": offset,
                            "committed_leader_epoch": -1,
                            "committed_metadata": "",
                        },
                        {
                            "partition_index": 9,
                            "committed_offset": 1,
                            "committed_leader_epoch": -1,
                            "committed_metadata": "",
                        },
                    ],
                }
            ],
        }
        r = broker.request(8, 7, req)
        return [p["error_code"] for p in r["topics"][0]["partitions"]]

    def committed():
        r = broker.request(9, 5, {"group_id": "g", "topics": [{"name": "t", "partition_indexes": [0]}]})
        return r["topics"][0]["partitions"][0]["committed_offset"]

    assert commit(5) == [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    monkeypatch.setattr(segment.os, "pwrite", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    assert commit(8) == [ErrorCode.NOT_COORDINATOR, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    assert committed() == 5  # nothing changed in memory either
    monkeypatch.undo()
    assert commit(8) == [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION] and committed() == 8
