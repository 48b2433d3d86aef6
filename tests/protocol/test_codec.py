"""Header versions, ApiVersions' exceptions, ExternalBytes and record-view chunks, the error
table."""

import struct

import pytest

from hpbroker.protocol import (
    API_KEYS,
    API_NAMES,
    MESSAGES,
    RETRIABLE,
    SUPPORTED_VERSIONS,
    ErrorCode,
    ExternalBytes,
    ProtocolError,
    api_versions_unsupported_response,
    decode_request,
    decode_request_header,
    decode_response,
    decode_response_header,
    encode_request,
    encode_request_parts,
    encode_response,
    encode_response_parts,
    request_header_version,
    response_header_version,
)
from tests.protocol.samples import sample


def test_api_keys_both_ways():
    assert API_KEYS["Produce"] == 0 and API_KEYS["ApiVersions"] == 18
    assert all(API_NAMES[k] == n for n, k in API_KEYS.items())


@pytest.mark.parametrize(
    "key,version,req,resp",
    [
        (0, 8, 1, 0),
        (0, 9, 2, 1),
        (1, 11, 1, 0),
        (1, 12, 2, 1),
        (3, 8, 1, 0),
        (3, 9, 2, 1),
        (18, 2, 1, 0),
        (18, 3, 2, 0),
        (18, 4, 2, 0),
        (17, 1, 1, 0),
    ],
)
def test_header_versions(key, version, req, resp):
    assert request_header_version(key, version) == req
    assert response_header_version(key, version) == resp


def test_api_versions_v3_response_has_no_header_tags():
    body = {"error_code": 0, "api_keys": [{"api_key": 18, "min_version": 0, "max_version": 4}], "throttle_time_ms": 0}
    frame = encode_response(18, 3, 9, body)
    # size, correlation id, then straight into the compact body: error_code int16 = 0
    assert frame[4:8] == b"\x00\x00\x00\x09" and frame[8:10] == b"\x00\x00"
    assert decode_response(18, 3, frame, 8)["api_keys"] == body["api_keys"]


def test_api_versions_v3_request_client_software():
    frame = encode_request(
        18, 3, 5, "rdkafka", {"client_software_name": "confluent-kafka-python", "client_software_version": "2.16.1"}
    )
    header, offset = decode_request_header(frame, 4)
    assert header.client_id == "rdkafka"
    body = decode_request(18, 3, frame, offset)
    assert body["client_software_name"] == "confluent-kafka-python"


def test_unsupported_api_versions_answer_is_a_v0_body():
    frame = api_versions_unsupported_response(42, {18: (0, 4), 0: (3, 8)})
    (size, corr, err, count) = struct.unpack_from(">iihi", frame)
    assert (size, corr, err, count) == (len(frame) - 4, 42, 35, 2)
    body = decode_response(18, 0, frame, 8)
    assert body["error_code"] == ErrorCode.UNSUPPORTED_VERSION
    assert {(k["api_key"], k["min_version"], k["max_version"]) for k in body["api_keys"]} == {(18, 0, 4), (0, 3, 8)}
    assert api_versions_unsupported_response(42, [(18, 0, 4), (0, 3, 8)]) == frame


def _fetch_body(records):
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "session_id": 0,
        "responses": [
            {
                "topic": "t",
                "partitions": [
                    {"partition_index": 0, "high_watermark": 10, "records": records},
                    {"partition_index": 1, "high_watermark": 3, "records": b"inline"},
                ],
            }
        ],
    }


@pytest.mark.parametrize("version", [4, 11, 12])
def test_external_bytes_become_their_own_chunk(version):
    ext = ExternalBytes(1000, source=("fd", 0))
    parts = encode_response_parts(1, version, 7, _fetch_body(ext))
    assert [type(p) for p in parts] == [bytes, ExternalBytes, bytes]
    assert parts[1] is ext
    total = len(parts[0]) + ext.size + len(parts[2])
    assert struct.unpack_from(">i", parts[0])[0] == total - 4
    # the same frame with the bytes in memory is identical once the chunk is substituted
    data = bytes(range(256)) * 3 + bytes(232)
    inline = encode_response(1, version, 7, _fetch_body(data))
    assert parts[0] + data + parts[2] == inline
    assert (
        bytes(
            decode_response(1, version, inline, decode_response_header(1, version, inline, 4)[1])["responses"][0][
                "partitions"
            ][0]["records"]
        )
        == data
    )
    with pytest.raises(TypeError):
        encode_response(1, version, 7, _fetch_body(ext))


def test_encode_parts_without_external_bytes_is_one_chunk():
    body = _fetch_body(b"abc")
    assert encode_response_parts(1, 11, 1, body) == [encode_response(1, 11, 1, body)]


def _split_apis():
    # the requests a processor splits by partition owner: Produce, ListOffsets, DeleteRecords
    return [(key, v) for key in (0, 2, 21) for v in range(SUPPORTED_VERSIONS[key][0], SUPPORTED_VERSIONS[key][1] + 1)]


@pytest.mark.parametrize("key,version", _split_apis())
@pytest.mark.parametrize("client_id", ["producer-1", None, "é"])
def test_request_parts_are_the_frame_without_its_size(key, version, client_id):
    body = sample(MESSAGES[key][0].fields, version, nulls=False)
    frame = encode_request(key, version, 99, client_id, body)
    # decoded: records fields are views of ``frame``, and stay views of it in the chunks
    header, offset = decode_request_header(frame, 4)
    decoded = decode_request(key, version, memoryview(frame), offset)
    parts = encode_request_parts(key, version, header.correlation_id, header.client_id, decoded)
    assert b"".join(parts) == frame[4:]
    assert sum(len(p) for p in parts) == struct.unpack_from(">i", frame)[0]
    assert b"".join(encode_request_parts(key, version, 99, client_id, body)) == frame[4:]
    views = [p for p in parts if type(p) is memoryview]
    if key == 0:  # Produce: one view per partition's records, none of them copied
        records = [p["records"] for t in decoded["topic_data"] for p in t["partition_data"]]
        assert len(views) == len(records) == 4
        assert all(v.obj is frame for v in views)
        assert [bytes(v) for v in views] == [bytes(r) for r in records]
    else:
        assert parts == [frame[4:]]


@pytest.mark.parametrize("version", [3, 8])
def test_request_parts_of_a_produce_subset(version):
    """A processor's sub-request: some partitions of a decoded Produce, records not copied."""
    batches = [bytes([i]) * (100 + i) for i in range(4)]
    body = {
        "acks": -1,
        "timeout_ms": 30000,
        "transactional_id": None,
        "topic_data": [{"name": "t", "partition_data": [{"index": i, "records": batches[i]} for i in range(4)]}],
    }
    frame = encode_request(0, version, 5, "c", body)
    decoded = decode_request(0, version, memoryview(frame), decode_request_header(frame, 4)[1])
    sub = dict(
        decoded,
        topic_data=[dict(decoded["topic_data"][0], partition_data=decoded["topic_data"][0]["partition_data"][1::2])],
    )
    parts = encode_request_parts(0, version, 5, "c", sub)
    assert [type(p) for p in parts] == [bytes, memoryview, bytes, memoryview]
    assert bytes(parts[1]) == batches[1] and bytes(parts[3]) == batches[3]
    expected = dict(
        body, topic_data=[{"name": "t", "partition_data": [{"index": i, "records": batches[i]} for i in (1, 3)]}]
    )
    assert b"".join(parts) == encode_request(0, version, 5, "c", expected)[4:]


def test_missing_keys_take_defaults_and_absent_fields_decode_to_defaults():
    frame = encode_request(0, 3, 1, None, {"acks": 1, "timeout_ms": 5, "topic_data": []})
    body = decode_request(0, 3, frame, decode_request_header(frame, 4)[1])
    assert body == {"transactional_id": None, "acks": 1, "timeout_ms": 5, "topic_data": []}
    frame = encode_response(
        0, 3, 1, {"responses": [{"name": "t", "partition_responses": [{"index": 0, "base_offset": 5}]}]}
    )
    part = decode_response(0, 3, frame, 8)["responses"][0]["partition_responses"][0]
    assert part["log_start_offset"] == -1 and part["record_errors"] == []
    assert part["error_message"] is None
    assert part["current_leader"] == {"leader_id": -1, "leader_epoch": -1}


def test_tagged_fields_written_only_when_not_default():
    plain = encode_response(0, 10, 1, {"responses": []})
    tagged = encode_response(
        0, 10, 1, {"responses": [], "node_endpoints": [{"node_id": 1, "host": "h", "port": 9092, "rack": None}]}
    )
    assert len(tagged) > len(plain)
    assert decode_response(0, 10, tagged, 9)["node_endpoints"][0]["port"] == 9092


def test_non_nullable_null_is_a_local_error():
    with pytest.raises(ValueError):
        encode_request(3, 1, 1, None, {"topics": [{"name": None}]})


def test_error_codes():
    assert ErrorCode.UNSUPPORTED_VERSION == 35 and ErrorCode.UNKNOWN_TOPIC_ID == 100
    assert ErrorCode.NOT_COORDINATOR.retriable and not ErrorCode.INVALID_RECORD.retriable
    assert ErrorCode(-1).name == "UNKNOWN_SERVER_ERROR"
    assert all(isinstance(e, ErrorCode) for e in RETRIABLE)


def test_header_of_a_future_api_versions_request_still_decodes():
    # ApiVersions v9 (unknown): header v2 by the flexible rule, so the broker can find the
    # correlation id and answer with the v0 error body.
    frame = struct.pack(">hhih", 18, 9, 77, 3) + b"cli" + b"\x00" + b"\x07future"
    header, offset = decode_request_header(frame, 0)
    assert header == (18, 9, 77, "cli") and offset == 14
    with pytest.raises(ProtocolError):
        decode_request(18, 9, frame, offset)
