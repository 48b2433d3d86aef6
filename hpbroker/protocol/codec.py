"""Public entry points: frames, request/response headers, and message bodies.

Byte layout::

    frame     = int32 size | header | body          (size counts header + body)
    request header  v1 = api_key int16 | api_version int16 | correlation_id int32 |
                         client_id int16-length nullable string
                    v2 = v1 | tagged-field section  (flexible versions)
    response header v0 = correlation_id int32
                    v1 = v0 | tagged-field section  (flexible versions; never ApiVersions)

Decoders take the bytes after the size prefix (``offset`` says where they start) and return
plain dicts (see __init__.py). Encoders return whole frames, size prefix included, except
``encode_request_parts`` (a frame without its size prefix, for a ring record, in chunks). Nothing
here reads a socket: the server hands in bytes and sends what it gets back.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple

from hpbroker.protocol import codegen
from hpbroker.protocol.apis import (
    API_VERSIONS_KEY,
    MESSAGES,
    SUPPORTED_VERSIONS,
    request_header_version,
    response_header_version,
)
from hpbroker.protocol.codegen import ExternalBytes
from hpbroker.protocol.errors import ErrorCode, ProtocolError
from hpbroker.protocol.primitives import prim

_I32 = struct.Struct(">i")
_REQ_HEADER = struct.Struct(">hhi")  # api_key, api_version, correlation_id
_RESP_HEADER = struct.Struct(">ii")  # size, correlation_id
_STRUCT_ERRORS = (struct.error, IndexError, OverflowError)

#: default cap on a frame's size (Kafka's socket.request.max.bytes)
MAX_FRAME_SIZE = 100 * 1024 * 1024


class RequestHeader(NamedTuple):
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


class ResponseHeader(NamedTuple):
    correlation_id: int


def frame_size(buf, offset: int = 0, max_size: int = MAX_FRAME_SIZE) -> int | None:
    """Size announced by the frame starting at ``offset``, or None if fewer than 4 bytes are
    there yet. A negative size or one above ``max_size`` is a ProtocolError."""
    if len(buf) - offset < 4:
        return None
    (size,) = _I32.unpack_from(buf, offset)
    if size < 0 or size > max_size:
        raise ProtocolError(f"frame size {size} outside [0, {max_size}]")
    return size


#: api key -> first flexible version (request header v2 from there on)
_FIRST_FLEXIBLE = {key: req.flexible[0] for key, (req, _) in MESSAGES.items() if req.flexible[0] <= req.flexible[1]}
_read_header = prim.read_request_header_full
_new_tuple = tuple.__new__


def decode_request_header(buf, offset: int = 0) -> tuple[RequestHeader, int]:
    """Request header at ``offset`` -> (RequestHeader, offset of the body).

    The header version follows the flexible-versions rule of the api key; for an api key this
    codec does not know, the v1 fields are returned and the body offset follows client_id
    (the caller answers or closes without reading the body)."""
    api_key, api_version, correlation_id, client_id, pos = _read_header(buf, offset, _FIRST_FLEXIBLE)
    # tuple.__new__ skips the NamedTuple constructor's argument handling (hot path)
    return _new_tuple(RequestHeader, (api_key, api_version, correlation_id, client_id)), pos


def decode_response_header(api_key: int, api_version: int, buf, offset: int = 0) -> tuple[ResponseHeader, int]:
    if len(buf) - offset < 4:
        raise ProtocolError("response header truncated")
    (correlation_id,) = _I32.unpack_from(buf, offset)
    pos = offset + 4
    if response_header_version(api_key, api_version) == 1:
        pos = prim.skip_tagged_fields(buf, pos)
    return ResponseHeader(correlation_id), pos


def _message(api_key: int, api_version: int, which: int):
    rng = SUPPORTED_VERSIONS.get(api_key)
    if rng is None:
        raise ProtocolError(f"unknown api key {api_key}")
    if not rng[0] <= api_version <= rng[1]:
        raise ProtocolError(f"api key {api_key} version {api_version} outside {rng}")
    return MESSAGES[api_key][which]


#: (api_key << 16 | api_version) << 1 | which -> generated decoder, filled on first use
_DECODERS: dict[int, Callable] = {}


def _decoder(api_key, api_version, which):
    fn = codegen.compiled(_message(api_key, api_version, which), api_version, "decode")
    _DECODERS[(api_key << 16 | api_version) << 1 | which] = fn
    return fn


def _decode(api_key, api_version, buf, offset, which) -> dict:
    fn = _DECODERS.get((api_key << 16 | api_version) << 1 | which)
    if fn is None:
        fn = _decoder(api_key, api_version, which)
    try:
        value, _ = fn(buf if type(buf) is memoryview else memoryview(buf), offset)
    except _STRUCT_ERRORS as exc:
        raise ProtocolError(f"api key {api_key} v{api_version}: truncated ({exc})") from None
    return value


def decode_request(api_key: int, api_version: int, buf, offset: int = 0) -> dict:
    """Request body at ``offset`` -> dict. ``bytes``/``records`` fields are memoryview slices
    of ``buf``: keep ``buf`` alive (and unmodified) while they are in use."""
    return _decode(api_key, api_version, buf, offset, 0)


def decode_response(api_key: int, api_version: int, buf, offset: int = 0) -> dict:
    return _decode(api_key, api_version, buf, offset, 1)


def _body_parts(message, api_version, body) -> list:
    out: list = []
    codegen.compiled(message, api_version, "encode")(body, out)
    return out


def _request_header(api_key, api_version, correlation_id, client_id) -> bytes:
    """The request header without the frame's size prefix."""
    if client_id is None:
        cid = b"\xff\xff"
    else:
        raw = client_id.encode("utf-8")
        cid = struct.pack(">h", len(raw)) + raw
    if request_header_version(api_key, api_version) == 2:
        cid += b"\x00"
    return _REQ_HEADER.pack(api_key, api_version, correlation_id) + cid


def encode_request(api_key: int, api_version: int, correlation_id: int, client_id: str | None, body: dict) -> bytes:
    """A whole request frame (size prefix, header, body), e.g. for tests and tools."""
    parts = _body_parts(_message(api_key, api_version, 0), api_version, body)
    head = _request_header(api_key, api_version, correlation_id, client_id)
    payload = _join(parts)
    return _I32.pack(len(head) + len(payload)) + head + payload


def encode_request_parts(
    api_key: int, api_version: int, correlation_id: int, client_id: str | None, body: dict
) -> list:
    """A request frame WITHOUT its size prefix (header + body), as chunks to be gathered into
    one buffer: ``bytes`` runs and, as chunks of their own, the memoryviews found in
    ``bytes``/``records`` fields, never copied here. The frame's size is the sum of the chunks'
    lengths. The buffers those views slice must stay alive and unchanged until the chunks are
    written (a processor writes them into a ring at once: the views are slices of the frame
    it is routing)."""
    parts = _body_parts(_message(api_key, api_version, 0), api_version, body)
    chunks: list = []
    run: list = [_request_header(api_key, api_version, correlation_id, client_id)]
    for p in parts:
        if type(p) is memoryview:
            chunks.append(_join(run))
            chunks.append(p)
            run = []
        else:
            run.append(p)
    chunks.append(_join(run))
    return [c for c in chunks if len(c)]


def _join(parts) -> bytes:
    try:
        return b"".join(parts)
    except TypeError:
        raise TypeError("ExternalBytes in a body: use encode_response_parts") from None


def encode_response_parts(api_key: int, api_version: int, correlation_id: int, body: dict) -> list:
    """A whole response frame as chunks: ``bytes`` objects and, in order, the ExternalBytes
    instances found in ``records`` fields. Each ExternalBytes' length prefix is already in
    the preceding bytes chunk; the frame size counts ``size`` bytes for each of them."""
    parts = _body_parts(_message(api_key, api_version, 1), api_version, body)
    flexible_header = response_header_version(api_key, api_version) == 1
    chunks: list = []
    run: list = []
    size = 4 + (1 if flexible_header else 0)
    for p in parts:
        if isinstance(p, ExternalBytes):
            chunks.append(b"".join(run))
            chunks.append(p)
            size += p.size
            run = []
        else:
            run.append(p)
            size += len(p)
    chunks.append(b"".join(run))
    head = _RESP_HEADER.pack(size, correlation_id) + (b"\x00" if flexible_header else b"")
    chunks[0] = head + chunks[0]
    return [c for c in chunks if not isinstance(c, bytes) or c]


def encode_response(api_key: int, api_version: int, correlation_id: int, body: dict) -> bytes:
    """A whole response frame (size prefix, the right header version, body)."""
    parts = _body_parts(_message(api_key, api_version, 1), api_version, body)
    payload = _join(parts)
    if response_header_version(api_key, api_version) == 1:
        return _RESP_HEADER.pack(len(payload) + 5, correlation_id) + b"\x00" + payload
    return _RESP_HEADER.pack(len(payload) + 4, correlation_id) + payload


def api_versions_unsupported_response(correlation_id: int, supported_ranges) -> bytes:
    """Kafka's answer to an ApiVersions request of a version it does not know: header v0 and a
    v0 body (error UNSUPPORTED_VERSION, int32-count api_keys, no throttle_time_ms), whatever
    the requested version, so every client can read it and retry with a version it finds in
    the list. ``supported_ranges``: mapping api_key -> (min, max) or iterable of
    (api_key, min, max); it should contain ApiVersions (18) itself."""
    items = supported_ranges.items() if hasattr(supported_ranges, "items") else None
    triples = [(k, lo, hi) for k, (lo, hi) in items] if items is not None else [tuple(t) for t in supported_ranges]
    body = struct.pack(">hi", ErrorCode.UNSUPPORTED_VERSION, len(triples))
    body += b"".join(struct.pack(">hhh", k, lo, hi) for k, lo, hi in sorted(triples))
    return _RESP_HEADER.pack(len(body) + 4, correlation_id) + body


__all__ = [
    "API_VERSIONS_KEY",
    "ExternalBytes",
    "MAX_FRAME_SIZE",
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
]
