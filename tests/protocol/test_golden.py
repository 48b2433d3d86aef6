"""Request frames captured from confluent-kafka, kafka-python and aiokafka (capture_golden.py):
each decodes, and re-encoding the decoded dict reproduces the captured bytes exactly."""

import re
from pathlib import Path

import pytest

from hpbroker.protocol import (
    API_KEYS,
    decode_request,
    decode_request_header,
    encode_request,
    frame_size,
)

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*/*_request_v*_*.bin"))
_NAME = re.compile(r"(?P<api>[a-z_]+)_request_v(?P<version>\d+)_\d+\.bin")
_KEYS = {re.sub(r"(?<!^)([A-Z])", r"_\1", n).lower(): k for n, k in API_KEYS.items()}


def test_golden_frames_present():
    clients = {f.parent.name for f in FILES}
    assert {"confluent_kafka", "kafka_python", "aiokafka"} <= clients
    flexible_apis = {f.name.split("_request")[0] for f in FILES if int(_NAME.match(f.name)["version"]) >= 9}
    assert {"produce", "fetch", "metadata"} <= flexible_apis


@pytest.mark.parametrize("path", FILES, ids=[f"{f.parent.name}/{f.stem}" for f in FILES])
def test_golden_request(path):
    frame = path.read_bytes()
    m = _NAME.match(path.name)
    assert frame_size(frame) == len(frame) - 4
    header, offset = decode_request_header(frame, 4)
    assert header.api_key == _KEYS[m["api"]]
    assert header.api_version == int(m["version"])
    body = decode_request(header.api_key, header.api_version, frame, offset)
    again = encode_request(header.api_key, header.api_version, header.correlation_id, header.client_id, body)
    assert again == frame
    if header.api_key == 0:  # Produce: records are views of the frame, not copies
        records = body["topic_data"][0]["partition_data"][0]["records"]
        assert isinstance(records, memoryview) and records.obj is not None
        assert bytes(records[16:17]) == b"\x02"  # RecordBatch magic 2
