"""The inter-broker APIs of a ZooKeeper-mode cluster, at the versions Kafka 2.4-2.7 send them
(LeaderAndIsr v4, StopReplica v3, UpdateMetadata v6, ControlledShutdown v3): messages as a
controller writes them, decoded back, and bytes laid out by hand from Kafka's wire rules
(flexible versions: uvarint lengths + 1, a tagged-field section after every struct)."""

import struct

from hpbroker.protocol import (
    SUPPORTED_VERSIONS,
    decode_request,
    decode_request_header,
    decode_response,
    decode_response_header,
    encode_request,
    encode_response,
)


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def compact_int32s(values):
    return uvarint(len(values) + 1) + b"".join(struct.pack(">i", v) for v in values)


NO_TAGS = b"\x00"


def contains(decoded, sent):
    """``decoded`` holds everything ``sent`` had (a decoder also fills in the defaults of the
    fields the version lacks)."""
    if isinstance(sent, dict):
        return all(k in decoded and contains(decoded[k], v) for k, v in sent.items())
    if isinstance(sent, list):
        return len(decoded) == len(sent) and all(contains(d, v) for d, v in zip(decoded, sent))
    return decoded == sent


def request_roundtrip(key, version, body):
    frame = encode_request(key, version, 42, "controller-1", body)
    header, offset = decode_request_header(frame, 4)
    assert header == (key, version, 42, "controller-1")
    return frame, offset, decode_request(key, version, frame, offset)


def test_leader_and_isr_v4_as_a_controller_sends_it():
    body = {
        "controller_id": 1,
        "controller_epoch": 7,
        "broker_epoch": 4294967296,
        "topic_states": [
            {
                "topic_name": "orders",
                "partition_states": [
                    {
                        "partition_index": 0,
                        "controller_epoch": 7,
                        "leader": 2,
                        "leader_epoch": 5,
                        "isr": [2, 3],
                        "partition_epoch": 12,
                        "replicas": [1, 2, 3],
                        "adding_replicas": [],
                        "removing_replicas": [],
                        "is_new": False,
                    },
                ],
            }
        ],
        "live_leaders": [{"broker_id": 2, "host_name": "b2", "port": 9092}],
    }
    frame, offset, decoded = request_roundtrip(4, 4, body)
    state = decoded["topic_states"][0]["partition_states"][0]
    assert decoded["controller_epoch"] == 7 and decoded["broker_epoch"] == 4294967296
    assert state["isr"] == [2, 3] and state["partition_epoch"] == 12 and state["leader_epoch"] == 5
    assert contains(decoded, body)
    partition = (
        struct.pack(">iiii", 0, 7, 2, 5)
        + compact_int32s([2, 3])
        + struct.pack(">i", 12)
        + compact_int32s([1, 2, 3])
        + compact_int32s([])
        + compact_int32s([])
        + b"\x00"
        + NO_TAGS
    )
    by_hand = (
        struct.pack(">iiq", 1, 7, 4294967296)
        + uvarint(2)
        + compact_string("orders")
        + uvarint(2)
        + partition
        + NO_TAGS
        + uvarint(2)
        + struct.pack(">i", 2)
        + compact_string("b2")
        + struct.pack(">i", 9092)
        + NO_TAGS
        + NO_TAGS
    )
    assert bytes(frame[offset:]) == by_hand


def test_leader_and_isr_response_v4():
    body = {
        "error_code": 0,
        "partition_errors": [
            {"topic_name": "orders", "partition_index": 0, "error_code": 0},
            {"topic_name": "orders", "partition_index": 1, "error_code": 6},
        ],
    }
    frame = encode_response(4, 4, 9, body)
    header, offset = decode_response_header(4, 4, frame, 4)
    assert contains(decode_response(4, 4, frame, offset), body)


def test_stop_replica_v3_carries_per_partition_leader_epochs():
    body = {
        "controller_id": 1,
        "controller_epoch": 7,
        "broker_epoch": 100,
        "topic_states": [
            {
                "topic_name": "orders",
                "partition_states": [
                    {"partition_index": 0, "leader_epoch": 5, "delete_partition": False},
                    {
                        "partition_index": 1,
                        "leader_epoch": -2,
                        "delete_partition": True,
                    },  # -2: delete whatever the epoch
                ],
            }
        ],
    }
    _, _, decoded = request_roundtrip(5, 3, body)
    assert contains(decoded, body)


def test_update_metadata_v6_with_offline_replicas_and_endpoints():
    body = {
        "controller_id": 1,
        "controller_epoch": 7,
        "broker_epoch": 100,
        "topic_states": [
            {
                "topic_name": "orders",
                "partition_states": [
                    {
                        "partition_index": 0,
                        "controller_epoch": 7,
                        "leader": -1,
                        "leader_epoch": 6,
                        "isr": [3],
                        "zk_version": 13,
                        "replicas": [1, 2, 3],
                        "offline_replicas": [3],
                    }
                ],
            }
        ],
        "live_brokers": [
            {
                "id": 1,
                "endpoints": [{"port": 9092, "host": "b1", "listener": "PLAINTEXT", "security_protocol": 0}],
                "rack": None,
            }
        ],
    }
    _, _, decoded = request_roundtrip(6, 6, body)
    state = decoded["topic_states"][0]["partition_states"][0]
    assert state["leader"] == -1 and state["offline_replicas"] == [3] and state["zk_version"] == 13
    assert contains(decoded, body)


def test_controlled_shutdown_v3_by_hand():
    frame, offset, decoded = request_roundtrip(7, 3, {"broker_id": 2, "broker_epoch": 555})
    assert contains(decoded, {"broker_id": 2, "broker_epoch": 555})
    # request header v2: api key, version, correlation id, client id (int16 length), no tags
    assert bytes(frame[4:offset]) == struct.pack(">hhih", 7, 3, 42, 12) + b"controller-1" + NO_TAGS
    assert bytes(frame[offset:]) == struct.pack(">iq", 2, 555) + NO_TAGS
    body = {"error_code": 0, "remaining_partitions": [{"topic_name": "orders", "partition_index": 1}]}
    frame = encode_response(7, 3, 9, body)
    header, offset = decode_response_header(7, 3, frame, 4)
    assert bytes(frame[offset:]) == (
        struct.pack(">h", 0) + uvarint(2) + compact_string("orders") + struct.pack(">i", 1) + NO_TAGS + NO_TAGS
    )
    assert contains(decode_response(7, 3, frame, offset), body)


def test_versions_cover_what_zookeeper_mode_controllers_send():
    assert SUPPORTED_VERSIONS[4] == (0, 5) and SUPPORTED_VERSIONS[5] == (0, 3)
    assert SUPPORTED_VERSIONS[6] == (0, 7) and SUPPORTED_VERSIONS[23] == (0, 4)
    # ControlledShutdown v0 uses request header v0 (no client id), which no other API does
    assert SUPPORTED_VERSIONS[7] == (1, 3)
