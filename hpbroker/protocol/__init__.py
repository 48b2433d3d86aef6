"""Kafka wire protocol, sans-io: bytes in, dicts out; dicts in, bytes out. No sockets, no files.

In-memory representation
    A decoded request or response body is a plain ``dict`` keyed by Kafka's field names in
    snake_case (``transactional_id``, ``topic_data``, ``partition_index``, ``records``).
    Nested structs are dicts, arrays are lists, fields absent from the decoded version hold
    their declared default (fresh lists/dicts). ``bytes`` and ``records`` fields decode to
    zero-copy ``memoryview`` slices of the input buffer (or None). Strings are ``str``, uuids
    16-byte ``bytes``. Encoders take the same dicts; a missing key takes its declared default.
    A ``records`` field of a response may hold an ``ExternalBytes`` (bytes not in memory, e.g. a
    file region for os.sendfile): use ``encode_response_parts`` for those.

Entry points (hpbroker.protocol)
    API_KEYS / API_NAMES                 name <-> api key
    SUPPORTED_VERSIONS                   api key -> (min, max) this codec decodes/encodes
    MESSAGES                             api key -> (request, response) declarations (schema.py)
    frame_size(buf, offset=0, max_size=MAX_FRAME_SIZE) -> int | None
    decode_request_header(buf, offset=0) -> (RequestHeader, body_offset)
    decode_request(api_key, api_version, buf, offset) -> dict
    encode_request(api_key, api_version, correlation_id, client_id, body) -> bytes (whole frame)
    encode_request_parts(same arguments) -> [bytes | memoryview] (frame without size prefix)
    decode_response_header(api_key, api_version, buf, offset=0) -> (ResponseHeader, body_offset)
    decode_response(api_key, api_version, buf, offset) -> dict
    encode_response(api_key, api_version, correlation_id, body) -> bytes (whole frame)
    encode_response_parts(api_key, api_version, correlation_id, body) -> [bytes | ExternalBytes]
    api_versions_unsupported_response(correlation_id, supported_ranges) -> bytes (whole frame)
    is_flexible / request_header_version / response_header_version (api_key, api_version)
    ProtocolError                        the peer sent invalid bytes (the only decode error)
    ErrorCode, RETRIABLE                 Kafka's error codes (errors.py)

Decoders take the bytes *after* the int32 size prefix, starting at ``offset``; encoders return
whole frames including it. Tagged fields this codec does not declare are skipped on decode
(Kafka keeps them only to forward them; a broker has nothing to forward).

A server's request path::

    size = frame_size(buf)                       # None until 4 bytes are there
    header, offset = decode_request_header(frame)         # frame = the `size` bytes after it
    if header.api_key == 18 and header.api_version > advertised_max:
        send(api_versions_unsupported_response(header.correlation_id, advertised))
    else:
        body = decode_request(header.api_key, header.api_version, frame, offset)
        ...
        send(encode_response(header.api_key, header.api_version, header.correlation_id, reply))

Any ProtocolError on that path means the connection is beyond repair: close it, as Kafka does. Layout per module: codec.py (frames, headers), _pyprimitives.py
(primitive types; Cython twin in cython/protocol/_cprimitives.pyx), schema.py (declarations
as data), messages/ (one module per API), codegen.py (flat functions compiled from them).
"""

from hpbroker.protocol.apis import (
    API_KEYS,
    API_NAMES,
    MESSAGES,
    SUPPORTED_VERSIONS,
    is_flexible,
    request_header_version,
    response_header_version,
)
from hpbroker.protocol.codec import (
    MAX_FRAME_SIZE,
    RequestHeader,
    ResponseHeader,
    api_versions_unsupported_response,
    decode_request,
    decode_request_header,
    decode_response,
    decode_response_header,
    encode_request,
    encode_request_parts,
    encode_response,
    encode_response_parts,
    frame_size,
)
from hpbroker.protocol.codegen import ExternalBytes
from hpbroker.protocol.errors import RETRIABLE, ErrorCode, ProtocolError

__all__ = [
    "API_KEYS",
    "API_NAMES",
    "MESSAGES",
    "SUPPORTED_VERSIONS",
    "MAX_FRAME_SIZE",
    "ErrorCode",
    "ExternalBytes",
    "ProtocolError",
    "RETRIABLE",
    "RequestHeader",
    "ResponseHeader",
    "api_versions_unsupported_response",
    "decode_request",
    "decode_request_header",
    "decode_response",
    "decode_response_header",
    "encode_request",
    "encode_request_parts",
    "encode_response",
    "encode_response_parts",
    "frame_size",
    "is_flexible",
    "request_header_version",
    "response_header_version",
]
