"""Answers larger than a ring record of the multi-process topology (512 KiB with the default
1 MiB response rings) reach the client whole and in order: the handler sends them in pieces and
the processor joins them. A JoinGroup's leader is sent every member's metadata, which a client
may make as large as it likes (assignors put user data there)."""

import time

import pytest

from hpbroker import protocol
from hpbroker.protocol.errors import ErrorCode
from tests.integration.conftest import mode_broker
from tests.integration.rawclient import RawClient

pytestmark = pytest.mark.integration

JOIN_GROUP, HEARTBEAT, API_VERSIONS = 11, 12, 18


@pytest.mark.parametrize("size", [600_000, 2_500_000])
def test_an_answer_larger_than_a_ring_record_arrives_whole_and_in_order(size):
    metadata = bytes(range(256)) * (size // 256)
    with mode_broker(config={"group.initial.rebalance.delay.ms": 0}) as broker, RawClient(broker.bootstrap, 30) as c:
        c.request(API_VERSIONS, 0, {})  # the group's coordinator topic is created on first use
        body = {
            "group_id": f"large-{size}",
            "session_timeout_ms": 30000,
            "rebalance_timeout_ms": 30000,
            "member_id": "",
            "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": metadata}],
        }
        retriable = (
            ErrorCode.COORDINATOR_NOT_AVAILABLE,
            ErrorCode.NOT_COORDINATOR,
            ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        )
        for _ in range(100):  # while __consumer_offsets is created and its partitions load
            joined = c.request(JOIN_GROUP, 3, body)
            if joined["error_code"] not in retriable:
                break
            time.sleep(0.1)
        assert joined["error_code"] == 0
        assert joined["leader"] == joined["member_id"]
        (member,) = joined["members"]
        assert bytes(member["metadata"]) == metadata
        # the connection goes on: two requests in flight, answered in order
        first = c.send(API_VERSIONS, 0, {})
        second = c.send(
            HEARTBEAT,
            1,
            {"group_id": body["group_id"], "generation_id": joined["generation_id"], "member_id": joined["member_id"]},
        )
        for cid, (key, version) in ((first, (API_VERSIONS, 0)), (second, (HEARTBEAT, 1))):
            frame = c.recv_frame()
            header, offset = protocol.decode_response_header(key, version, frame, 0)
            assert header.correlation_id == cid
            assert protocol.decode_response(key, version, frame, offset)["error_code"] == 0
