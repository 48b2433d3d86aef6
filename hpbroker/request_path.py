"""The one request path: a request frame in, a response out, the same in every topology.

Theory of operation
-------------------
Sans-io, in the manner of h11: no sockets, no rings, no event loop. Whoever holds a complete
request frame (the bytes after its size prefix) calls

    ctx, result = serve(broker, frame, peer)     # identify (header, version check), decode, call
    # result: a response body, None (the protocol sends no response: acks=0 Produce),
    #         or an awaitable of either (a long-poll Fetch, a parked JoinGroup, a controller call)
    body = result_of(ctx, task)                   # once a task running that awaitable is done
    parts = encode_parts(ctx, body)               # chunks for sendmsg/sendfile (a connection)
    frame = encode_frame(ctx, body)               # or one frame (a ring record)

and ``Refused`` is raised wherever the request cannot be answered: the connection is closed
(``reason`` says why, for the log), except for ApiVersions at a version this broker does not
serve, whose ``answer`` is the frame to send instead (KIP-511: a v0 error body listing our
versions, so that a newer client can retry with one we have).

Callers: the in-process connection (server/connection.py), a processor's connection for the
APIs it serves itself (the same class), and a handler process for what processors forward
to it (server/multiproc/handler_process.py). A handler process receives a part of a split
request flagged OWNED: ``restrict`` narrows the decoded request to its own partitions.

Cost: this is the per-request path of every Produce and Fetch; it adds no work to what the
callers did before it existed (one header decode, one registry look-up, one body decode, one
handler call, one encode).
"""
from __future__ import annotations

import inspect
import logging

from hpbroker import protocol
from hpbroker.broker.request import CloseConnection, RequestContext
from hpbroker.handlers import REGISTRY, supported_versions
from hpbroker.protocol import ProtocolError

log = logging.getLogger(__name__)

API_VERSIONS = 18


class Refused(Exception):
    """The request cannot be answered: close the connection, or send ``answer`` instead."""

    def __init__(self, reason: str, answer: bytes | None = None):
        super().__init__(reason)
        self.reason = reason
        self.answer = answer


def identify(frame):
    """``(header, body offset, API module)`` of a request frame whose version this broker
    serves; raises ``Refused``. A processor's router looks here before it routes a frame."""
    try:
        header, offset = protocol.decode_request_header(frame)
    except ProtocolError as exc:
        raise Refused(f"bad request header: {exc}") from None
    api_key, version = header.api_key, header.api_version
    module = REGISTRY.get(api_key)
    if module is None:
        raise Refused(f"unknown api key {api_key}")
    if not module.MIN_VERSION <= version <= module.MAX_VERSION:
        if api_key == API_VERSIONS:
            raise Refused(f"ApiVersions v{version} is answered with the versions we serve",
                          protocol.api_versions_unsupported_response(header.correlation_id, supported_versions()))
        raise Refused(f"unsupported version {version} of api key {api_key}")
    return header, offset, module


def serve(broker, frame, peer: str, restrict=None, identified=None):
    """Decode ``frame``, check its version, run its API module. Returns ``(ctx, result)``:
    ``result`` is the response body, None (no response), or an awaitable of either. Raises
    ``Refused``. ``restrict(api_key, request) -> request`` (a handler process's OWNED parts)
    narrows the decoded request before the handler sees it; ``identified`` is what
    ``identify`` returned for this frame, if the caller asked already."""
    header, offset, module = identify(frame) if identified is None else identified
    api_key, version = header.api_key, header.api_version
    try:
        request = protocol.decode_request(api_key, version, frame, offset)
    except ProtocolError as exc:
        raise Refused(f"api key {api_key} v{version} body does not decode: {exc}") from None
    if restrict is not None:
        request = restrict(api_key, request)
    ctx = RequestContext(broker, api_key, version, header.correlation_id, header.client_id, peer)
    try:
        result = module.handle(ctx, request)
    except CloseConnection as exc:
        raise Refused(str(exc)) from None
    except Exception:
        log.exception("%s failed on api key %d v%d from %s", module.__name__, api_key, version, peer)
        raise Refused("internal error") from None
    return ctx, result


def is_pending(result) -> bool:
    """True if ``result`` is an awaitable (to run as a task), not a body or None."""
    return type(result) is not dict and result is not None and inspect.isawaitable(result)


def result_of(ctx: RequestContext, task):
    """The response body of a finished task that ran a handler's awaitable; raises ``Refused``."""
    exc = task.exception()
    if exc is None:
        return task.result()
    if isinstance(exc, CloseConnection):
        raise Refused(str(exc))
    log.error("api key %d v%d from %s failed", ctx.api_key, ctx.api_version, ctx.peer, exc_info=exc)
    raise Refused("internal error")


def encode_parts(ctx: RequestContext, body) -> list:
    """The response as chunks for a connection to send: bytes, and ``ExternalBytes`` (file
    regions sent with os.sendfile); empty when the protocol has no response."""
    if body is None:
        return []
    try:
        return protocol.encode_response_parts(ctx.api_key, ctx.api_version, ctx.correlation_id, body)
    except Exception:
        log.exception("cannot encode response to api key %d v%d", ctx.api_key, ctx.api_version)
        raise Refused("internal error") from None


def encode_frame(ctx: RequestContext, body) -> bytes | None:
    """The response as one frame, size prefix included (a ring record); None when the protocol
    has no response."""
    if body is None:
        return None
    try:
        return protocol.encode_response(ctx.api_key, ctx.api_version, ctx.correlation_id, body)
    except Exception:
        log.exception("cannot encode response to api key %d v%d", ctx.api_key, ctx.api_version)
        raise Refused("internal error") from None
