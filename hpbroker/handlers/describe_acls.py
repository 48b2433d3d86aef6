"""DescribeAcls (key 29), versions 0-2: hpbroker has no authorizer, so, as a Kafka broker without
``authorizer.class.name``, it answers SECURITY_DISABLED "No Authorizer is configured on the
broker". Admin tools then say what is true (ACLs are off) instead of "not supported by broker".
Versions as Kafka 3.0 advertises them (kafka-python infers the broker's version from such ranges).
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.protocol.errors import ErrorCode

API_KEY = 29
MIN_VERSION, MAX_VERSION = 0, 2
ROUTE = Route(PROCESSOR)


def handle(ctx: RequestContext, request: dict):
    return {
        "throttle_time_ms": 0,
        "error_code": ErrorCode.SECURITY_DISABLED,
        "error_message": "No Authorizer is configured on the broker",
        "resources": [],
    }
