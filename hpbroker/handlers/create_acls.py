"""CreateAcls (key 30), versions 0-2: no authorizer (see describe_acls.py), so every creation
is answered SECURITY_DISABLED, as Kafka's ``getErrorResponse`` does without one."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.protocol.errors import ErrorCode

API_KEY = 30
MIN_VERSION, MAX_VERSION = 0, 2
ROUTE = Route(PROCESSOR)


def handle(ctx: RequestContext, request: dict):
    return {
        "throttle_time_ms": 0,
        "results": [
            {"error_code": ErrorCode.SECURITY_DISABLED, "error_message": "No Authorizer is configured."}
            for _ in request["creations"]
        ],
    }
