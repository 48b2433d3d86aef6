"""Idempotent producers at the protocol level: duplicates, fencing, gaps, state after restart."""

import pytest

from hpbroker.records.builder import build_batch
from hpbroker.testing import running_broker
from tests.integration.conftest import create_topic, mode_args
from tests.integration.rawclient import RawClient, produce_body, produce_result

pytestmark = pytest.mark.integration

PRODUCE, INIT_PRODUCER_ID = 0, 22


def _batch(pid, epoch, seq, n=3):
    return build_batch(
        [f"r{seq + i}".encode() for i in range(n)], producer_id=pid, producer_epoch=epoch, base_sequence=seq
    )


def _init(client):
    r = client.request(INIT_PRODUCER_ID, 1, {"transactional_id": None, "transaction_timeout_ms": 60000})
    assert r["error_code"] == 0
    return r["producer_id"], r["producer_epoch"]


def test_duplicates_fencing_and_gaps(bootstrap, topic_name):
    create_topic(bootstrap, topic_name)
    with RawClient(bootstrap) as c:
        pid, epoch = _init(c)
        send = lambda b: produce_result(c.request(PRODUCE, 8, produce_body(topic_name, 0, b)))  # noqa: E731
        assert send(_batch(pid, epoch, 0)) == (0, 0)
        assert send(_batch(pid, epoch, 3)) == (0, 3)
        # a retry of either of the last batches is answered with its original offset, not appended
        assert send(_batch(pid, epoch, 0)) == (0, 0)
        assert send(_batch(pid, epoch, 3)) == (0, 3)
        # a gap in the sequence is refused
        assert send(_batch(pid, epoch, 10))[0] == 45  # OUT_OF_ORDER_SEQUENCE_NUMBER
        # a newer epoch must start at sequence 0; after it the old epoch is fenced
        assert send(_batch(pid, epoch + 1, 5))[0] == 45
        assert send(_batch(pid, epoch + 1, 0)) == (0, 6)
        assert send(_batch(pid, epoch, 6))[0] == 47  # INVALID_PRODUCER_EPOCH
        assert send(_batch(-1, -1, -1)) == (0, 9)  # a plain batch still goes in
        # the log holds exactly the three batches appended once each
        r = c.request(
            2,
            5,
            {
                "replica_id": -1,
                "isolation_level": 0,
                "topics": [
                    {
                        "name": topic_name,
                        "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}],
                    }
                ],
            },
        )
        assert r["topics"][0]["partitions"][0]["offset"] == 12


def test_producer_state_survives_restart(tmp_path):
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=mode_args()) as b:
        create_topic(b.bootstrap, "idem")
        with RawClient(b.bootstrap) as c:
            pid, epoch = _init(c)
            assert produce_result(c.request(PRODUCE, 8, produce_body("idem", 0, _batch(pid, epoch, 0)))) == (0, 0)
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=mode_args()) as b:
        with RawClient(b.bootstrap) as c:
            # the retry after a restart is still recognised as a duplicate
            assert produce_result(c.request(PRODUCE, 8, produce_body("idem", 0, _batch(pid, epoch, 0)))) == (0, 0)
            assert produce_result(c.request(PRODUCE, 8, produce_body("idem", 0, _batch(pid, epoch, 7))))[0] == 45
            assert produce_result(c.request(PRODUCE, 8, produce_body("idem", 0, _batch(pid, epoch, 3)))) == (0, 3)


def test_acks_zero_gets_no_response_and_a_failure_closes_the_connection(bootstrap, topic_name):
    from hpbroker import protocol

    create_topic(bootstrap, topic_name)
    metadata_v1 = {"topics": []}
    with RawClient(bootstrap) as c:
        c.send(PRODUCE, 8, produce_body(topic_name, 0, bytes(build_batch([b"fire-and-forget"])), acks=0))
        cid = c.send(3, 1, metadata_v1)
        frame = c.recv_frame()  # the next frame answers the Metadata request: acks=0 got none
        header, _ = protocol.decode_response_header(3, 1, frame, 0)
        assert header.correlation_id == cid
        r = c.request(
            2,
            5,
            {
                "replica_id": -1,
                "isolation_level": 0,
                "topics": [
                    {
                        "name": topic_name,
                        "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}],
                    }
                ],
            },
        )
        assert r["topics"][0]["partitions"][0]["offset"] == 1  # and the record was appended
    with RawClient(bootstrap) as c:
        # a failed acks=0 produce cannot be answered: Kafka closes the connection instead
        c.send(PRODUCE, 8, produce_body(topic_name + "-missing", 0, bytes(build_batch([b"x"])), acks=0))
        assert c.is_closed_by_peer()
