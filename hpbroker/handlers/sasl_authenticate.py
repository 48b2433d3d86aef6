"""SaslAuthenticate (key 36), versions 0-2: one step of the SASL exchange the SaslHandshake chose
(hpbroker/security/sasl_server.py). A refusal is SASL_AUTHENTICATION_FAILED, answered after
connection.failed.authentication.delay.ms, and the connection closes. v1+ tells the client how
long its session lasts (connections.max.reauth.ms; 0: for ever)."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.protocol.errors import ErrorCode

API_KEY = 36
MIN_VERSION, MAX_VERSION = 0, 2
ROUTE = Route(PROCESSOR)


def handle(ctx: RequestContext, request: dict):
    sasl = ctx.session.sasl
    if sasl is None:
        return {
            "error_code": ErrorCode.ILLEGAL_SASL_STATE,
            "error_message": "SaslAuthenticate on a listener without SASL",
            "auth_bytes": b"",
            "session_lifetime_ms": 0,
        }
    return sasl.authenticate(ctx.api_version, request["auth_bytes"])
