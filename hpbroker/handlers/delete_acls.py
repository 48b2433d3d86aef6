"""DeleteAcls (key 31), versions 0-2: no authorizer (see describe_acls.py), so every filter is
answered SECURITY_DISABLED with no matching ACLs, as Kafka does without one."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.protocol.errors import ErrorCode

API_KEY = 31
MIN_VERSION, MAX_VERSION = 0, 2
ROUTE = Route(PROCESSOR)


def handle(ctx: RequestContext, request: dict):
    return {
        "throttle_time_ms": 0,
        "filter_results": [
            {
                "error_code": ErrorCode.SECURITY_DISABLED,
                "error_message": "No Authorizer is configured.",
                "matching_acls": [],
            }
            for _ in request["filters"]
        ],
    }
