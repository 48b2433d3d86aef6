"""Fetch and ListOffsets at read_committed through the request path: the answer stops at the last
stable offset, names the aborted transactions of the range it returns, and read_uncommitted is
unchanged. The markers are appended as the transaction coordinator has the leader append them."""

from hpbroker.records.builder import build_batch
from hpbroker.records.layout import TRANSACTIONAL_MASK
from tests.handlers.test_fetch import _fetch

FETCH, PRODUCE, LIST_OFFSETS = 1, 0, 2
PID = 1000


def _produce(harness, buf):
    r = harness.request(
        PRODUCE,
        8,
        {
            "transactional_id": None,
            "acks": 1,
            "timeout_ms": 1000,
            "topic_data": [{"name": "t", "partition_data": [{"index": 0, "records": buf}]}],
        },
    )
    assert r["responses"][0]["partition_responses"][0]["error_code"] == 0


def _txn(seq, n=2):
    return build_batch([b"x"] * n, producer_id=PID, producer_epoch=0, base_sequence=seq, attributes=TRANSACTIONAL_MASK)


def _read(harness, isolation, offset=0):
    body = _fetch([(0, offset, -1)])
    body["isolation_level"] = isolation
    return harness.request(FETCH, 11, body)["responses"][0]["partitions"][0]


def _latest(harness, isolation):
    body = {
        "replica_id": -1,
        "isolation_level": isolation,
        "topics": [{"name": "t", "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}]}],
    }
    return harness.request(LIST_OFFSETS, 5, body)["topics"][0]["partitions"][0]["offset"]


def test_read_committed_stops_at_the_lso_and_names_aborted_transactions(harness):
    harness.create_topic("t")
    _produce(harness, build_batch([b"a"]))  # 0
    _produce(harness, _txn(0))  # 1-2
    p = _read(harness, 1)
    assert (p["high_watermark"], p["last_stable_offset"]) == (3, 1)
    assert len(p["records"]) > 0 and p["aborted_transactions"] == []
    assert _latest(harness, 1) == 1 and _latest(harness, 0) == 3
    assert _read(harness, 1, offset=1)["records"] in (b"", None)
    unc = _read(harness, 0, offset=1)
    assert len(unc["records"]) > 0 and unc["aborted_transactions"] is None

    harness.partition("t", 0).append_marker(PID, 0, False, 0)  # 3: ABORT
    p = _read(harness, 1, offset=1)
    assert p["last_stable_offset"] == 4
    assert p["aborted_transactions"] == [{"producer_id": PID, "first_offset": 1}]
    _produce(harness, _txn(2))  # 4-5
    harness.partition("t", 0).append_marker(PID, 0, True, 0)  # 6: COMMIT
    p = _read(harness, 1, offset=4)
    assert p["last_stable_offset"] == 7 and p["aborted_transactions"] == []
    assert _latest(harness, 1) == 7
