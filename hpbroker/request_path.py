"""The one request path: a request frame in, a response out, the same in every topology.

Theory of operation
-------------------
Sans-io, in the manner of h11: no sockets, no rings, no event loop. Whoever holds a complete
request frame (the bytes after its size prefix) calls

    ctx, answer = serve(broker, frame, peer, encode)   # decode, version check, handler call
    # answer: the encoded response if the handler answered at once: what ``encode`` makes of
    #         its body (``encode_parts``: chunks for a connection's sendmsg/sendfile, [] when
    #         the protocol has no response; ``encode_frame``: one frame for a ring record, None
    #         when it has none); or an awaitable of the body when the handler parked the
    #         request (a long-poll Fetch, a JoinGroup, a controller call): ``pending(answer)``
    body = result_of(ctx, task)                       # once a task running that awaitable is done
    answer = encode(ctx, body)

and ``Refused`` is raised wherever the request cannot be answered: the connection is closed
(``reason`` says why, for the log), except for ApiVersions at a version this broker does not
serve, whose ``answer`` is the frame to send instead (KIP-511: a v0 error body listing our
versions, so that a newer client can retry with one we have).

Callers: the in-process connection (server/connection.py), a processor's connection for the
APIs it serves itself (the same class; the processor's router asks ``identify`` first), and a
handler process for what processors forward to it (server/multiproc/handler_process.py). A
handler process receives a part of a split request flagged OWNED: ``restrict`` narrows the
decoded request to its own partitions.

Cost: this is the per-request path of every Produce and Fetch; it does only what any caller
must (one header decode, one registry look-up, one body decode, one handler call, one
encode), and ``serve`` is the only call it puts on their path.
"""

from __future__ import annotations

import inspect
import logging

from hpbroker import protocol
from hpbroker.broker.request import NO_SESSION, CloseConnection, RequestContext
from hpbroker.handlers import REGISTRY, supported_versions
from hpbroker.protocol import ExternalBytes, ProtocolError

log = logging.getLogger(__name__)

API_VERSIONS = 18
FETCH = 1


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
            raise Refused(
                f"ApiVersions v{version} is answered with the versions we serve",
                protocol.api_versions_unsupported_response(header.correlation_id, supported_versions()),
            )
        raise Refused(f"unsupported version {version} of api key {api_key}")
    return header, offset, module


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


def _in_memory(part) -> bytes:
    if isinstance(part, ExternalBytes):
        return b"".join(region.read() for region in part.source)
    return part


def encode_frame(ctx: RequestContext, body) -> bytes | None:
    """The response as one frame, size prefix included (a ring record); None when the protocol
    has no response. Records left in segment files (a follower's Fetch served by a handler
    process) are read into it: a ring record holds its bytes."""
    if body is None:
        return None
    try:
        if ctx.api_key == FETCH:
            parts = protocol.encode_response_parts(ctx.api_key, ctx.api_version, ctx.correlation_id, body)
            return b"".join(_in_memory(p) for p in parts)
        return protocol.encode_response(ctx.api_key, ctx.api_version, ctx.correlation_id, body)
    except Exception:
        log.exception("cannot encode response to api key %d v%d", ctx.api_key, ctx.api_version)
        raise Refused("internal error") from None


def serve(
    broker, frame, peer: str, encode=encode_parts, restrict=None, identified=None, session=NO_SESSION, internal=False
):
    """Decode ``frame``, check its version, run its API module. Returns ``(ctx, answer)``:
    ``answer`` is ``encode(ctx, body)`` when the handler answered at once, else the awaitable it
    returned (``pending``). Raises ``Refused``. ``restrict(api_key, request) -> request`` (a
    handler process's OWNED parts) narrows the decoded request before the handler sees it;
    ``identified`` is what ``identify`` returned for this frame, if the caller asked already;
    ``session`` says who sent it (principal, address, listener);
    ``internal``: the broker's own request (RequestContext.internal)."""
    if identified is None:
        # ``identify``, inline: one call fewer on the path of every request
        try:
            header, offset = protocol.decode_request_header(frame)
        except ProtocolError as exc:
            raise Refused(f"bad request header: {exc}") from None
        api_key, version = header.api_key, header.api_version
        module = REGISTRY.get(api_key)
        if module is None or not module.MIN_VERSION <= version <= module.MAX_VERSION:
            identify(frame)  # raises the refusal
    else:
        header, offset, module = identified
        api_key, version = header.api_key, header.api_version
    try:
        request = protocol.decode_request(api_key, version, frame, offset)
    except ProtocolError as exc:
        raise Refused(f"api key {api_key} v{version} body does not decode: {exc}") from None
    if restrict is not None:
        request = restrict(api_key, request)
    ctx = RequestContext(broker, api_key, version, header.correlation_id, header.client_id, peer, session, internal)
    try:
        result = module.handle(ctx, request)
    except CloseConnection as exc:
        raise Refused(str(exc)) from None
    except Exception:
        log.exception("%s failed on api key %d v%d from %s", module.__name__, api_key, version, peer)
        raise Refused("internal error") from None
    if type(result) is dict or result is None or not inspect.isawaitable(result):
        return ctx, encode(ctx, result)
    return ctx, result


def pending(answer) -> bool:
    """True if ``serve``'s answer is a handler's awaitable (to run as a task), not an encoded
    response."""
    return type(answer) is not list and type(answer) is not bytes and answer is not None and inspect.isawaitable(answer)


def result_of(ctx: RequestContext, task):
    """The response body of a finished task that ran a handler's awaitable; raises ``Refused``."""
    exc = task.exception()
    if exc is None:
        return task.result()
    if isinstance(exc, CloseConnection):
        raise Refused(str(exc))
    log.error("api key %d v%d from %s failed", ctx.api_key, ctx.api_version, ctx.peer, exc_info=exc)
    raise Refused("internal error")
