"""Every request and response at every supported version: encode, decode, re-encode."""

import pytest

from hpbroker.protocol import (
    MESSAGES,
    SUPPORTED_VERSIONS,
    decode_request,
    decode_request_header,
    decode_response,
    decode_response_header,
    encode_request,
    encode_response,
)
from hpbroker.protocol.apis import response_header_version

from .samples import expected, reference_encode, sample

CASES = [
    (key, version, kind, nulls)
    for key, (lo, hi) in sorted(SUPPORTED_VERSIONS.items())
    for version in range(lo, hi + 1)
    for kind in ("request", "response")
    for nulls in (False, True)
]


def _id(case):
    key, version, kind, nulls = case
    return f"{MESSAGES[key][0].name[:-7]}-{kind}-v{version}{'-nulls' if nulls else ''}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_round_trip(case):
    key, version, kind, nulls = case
    message = MESSAGES[key][0 if kind == "request" else 1]
    body = sample(message.fields, version, nulls)
    if kind == "request":
        frame = encode_request(key, version, 12345, "client-é", body)
        header, offset = decode_request_header(frame, 4)
        assert header == (key, version, 12345, "client-é")
        decoded = decode_request(key, version, frame, offset)
        again = encode_request(key, version, 12345, "client-é", decoded)
    else:
        frame = encode_response(key, version, 777, body)
        header, offset = decode_response_header(key, version, frame, 4)
        assert header.correlation_id == 777
        assert offset == 8 + response_header_version(key, version)
        decoded = decode_response(key, version, frame, offset)
        again = encode_response(key, version, 777, decoded)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert decoded == expected(message.fields, version, body)
    assert again == frame
    assert frame[offset:] == reference_encode(message, version, body)
