"""A long-poll Fetch must see an append that is handled after its read found nothing but before
its coroutine first runs (same event-loop pass): the watch is registered when the Fetch is
handled, not when the parked task starts."""

import threading
import time

from hpbroker import protocol
from hpbroker.records.builder import build_batch
from hpbroker.testing import running_broker
from tests.integration.rawclient import RawClient, produce_body, produce_result

PRODUCE, FETCH, CREATE_TOPICS = 0, 1, 19


def _fetch_body(topic, offset, max_wait_ms):
    return {
        "replica_id": -1,
        "max_wait_ms": max_wait_ms,
        "min_bytes": 1,
        "max_bytes": 1 << 20,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": 0,
                        "current_leader_epoch": -1,
                        "fetch_offset": offset,
                        "log_start_offset": -1,
                        "partition_max_bytes": 1 << 20,
                    }
                ],
            }
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }


def test_append_in_the_same_loop_pass_wakes_the_parked_fetch():
    with running_broker() as b, RawClient(b.bootstrap) as consumer, RawClient(b.bootstrap) as producer:
        body = {
            "topics": [
                {"name": "race", "num_partitions": 1, "replication_factor": 1, "assignments": [], "configs": []}
            ],
            "timeout_ms": 5000,
            "validate_only": False,
        }
        assert consumer.request(CREATE_TOPICS, 4, body)["topics"][0]["error_code"] == 0
        loop = b.server.loop
        for attempt in range(3):
            # Hold the broker's loop until both requests are sent, so that the Fetch and the
            # Produce are read in one pass, the Fetch first (it became readable first).
            busy, release = threading.Event(), threading.Event()
            loop.call_soon_threadsafe(lambda: (busy.set(), release.wait(10)))
            assert busy.wait(5)
            cid = consumer.send(FETCH, 11, _fetch_body("race", attempt, 60_000))
            time.sleep(0.05)  # pacing: the Fetch's socket becomes readable before the Produce's
            producer.send(PRODUCE, 8, produce_body("race", 0, build_batch([b"v%d" % attempt])))
            release.set()
            try:  # within the client's 10 s read timeout: woken by the append, not by max_wait_ms
                frame = consumer.recv_frame()
            except TimeoutError:
                raise AssertionError("the parked Fetch missed the append and waits max_wait_ms (60 s)") from None

            header, offset = protocol.decode_response_header(FETCH, 11, frame, 0)
            assert header.correlation_id == cid
            resp = protocol.decode_response(FETCH, 11, frame, offset)
            assert len(bytes(resp["responses"][0]["partitions"][0]["records"])) > 0
            frame = producer.recv_frame()

            h, o = protocol.decode_response_header(PRODUCE, 8, frame, 0)
            assert produce_result(protocol.decode_response(PRODUCE, 8, frame, o))[0] == 0
