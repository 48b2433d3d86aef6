"""Protocol codec microbenchmarks (make bench): request header decode, Produce request decode,
Fetch response encode, each with the Cython primitives and with their pure twin."""

from pathlib import Path

import pytest

from hpbroker.protocol import MESSAGES, ExternalBytes, codegen, decode_request_header, encode_response_parts
from hpbroker.protocol import _pyprimitives as pure
from hpbroker.protocol.codec import _FIRST_FLEXIBLE

try:
    from hpbroker.protocol import _cprimitives as compiled
except ImportError:  # pragma: no cover
    compiled = None

pytestmark = pytest.mark.bench

GOLDEN = Path(__file__).parent.parent / "protocol" / "golden"
PRODUCE = (GOLDEN / "confluent_kafka" / "produce_request_v8_0.bin").read_bytes()
IMPLS = {"cython": compiled, "pure": pure}


@pytest.mark.parametrize("impl", ["cython", "pure"])
def test_request_header_decode(benchmark, impl):
    if IMPLS[impl] is None:
        pytest.skip("compiled primitives not built")
    read = IMPLS[impl].read_request_header_full
    benchmark.group = "request header"
    assert benchmark(read, PRODUCE, 4, _FIRST_FLEXIBLE)[0] == 0


def test_request_header_decode_public(benchmark):
    benchmark.group = "request header"
    header, _ = benchmark(decode_request_header, PRODUCE, 4)
    assert header.api_key == 0


@pytest.mark.parametrize("impl", ["cython", "pure"])
def test_produce_request_decode(benchmark, impl):
    if IMPLS[impl] is None:
        pytest.skip("compiled primitives not built")
    header, offset = decode_request_header(PRODUCE, 4)
    decode = codegen.build(MESSAGES[0][0], header.api_version, "decode", IMPLS[impl])
    mv = memoryview(PRODUCE)
    benchmark.group = "produce v8 decode"
    body, _ = benchmark(decode, mv, offset)
    assert len(body["topic_data"][0]["partition_data"][0]["records"]) > 61


def _fetch_body(partitions):
    return {
        "responses": [
            {
                "topic": "bench",
                "partitions": [
                    {
                        "partition_index": p,
                        "high_watermark": 1000,
                        "last_stable_offset": 1000,
                        "log_start_offset": 0,
                        "records": ExternalBytes(1 << 20),
                    }
                    for p in range(partitions)
                ],
            }
        ]
    }


def test_fetch_response_encode_parts(benchmark):
    body = _fetch_body(8)
    benchmark.group = "fetch v11 encode (8 partitions, sendfile chunks)"
    parts = benchmark(encode_response_parts, 1, 11, 1, body)
    assert len(parts) == 16  # 8 x (bytes, ExternalBytes); v11 has no trailing tagged section
