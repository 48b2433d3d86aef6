"""SaslHandshake (key 17), versions 0-1: the client names its SASL mechanism
(hpbroker/security/sasl_server.py). On a listener without SASL: ILLEGAL_SASL_STATE, as Kafka.
v0: the SASL tokens follow as bare frames; v1: in SaslAuthenticate requests. Served where the
connection is (a processor), since the connection's state changes."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.protocol.errors import ErrorCode

API_KEY = 17
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(PROCESSOR)


def handle(ctx: RequestContext, request: dict):
    sasl = ctx.session.sasl
    if sasl is None:
        return {"error_code": ErrorCode.ILLEGAL_SASL_STATE, "mechanisms": []}
    return sasl.handshake(ctx.api_version, request["mechanism"])
