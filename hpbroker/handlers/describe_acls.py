"""DescribeAcls (key 29), versions 0-2: the ACL bindings a filter matches, grouped by resource.
Needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED). Without an authorizer, as a Kafka
broker without ``authorizer.class.name``: SECURITY_DISABLED "No Authorizer is configured on the
broker". Runs at the controller, which wrote the ACLs last. Versions as Kafka 3.0 advertises
them (kafka-python infers the broker's version from such ranges)."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, AclFilter, InvalidAcl, Operation, ResourceType

API_KEY = 29
MIN_VERSION, MAX_VERSION = 0, 2
ROUTE = Route(CONTROLLER)


def _error(code, message):
    return {"throttle_time_ms": 0, "error_code": code, "error_message": message, "resources": []}


def handle(ctx: RequestContext, request: dict):
    authorizer = ctx.broker.authorizer
    if authorizer is None:
        return _error(ErrorCode.SECURITY_DISABLED, "No Authorizer is configured on the broker")
    if not ctx.authorize(Operation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME):
        return _error(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.")
    flt = AclFilter(
        request["resource_type_filter"],
        request["resource_name_filter"],
        request.get("pattern_type_filter", 3),
        request["principal_filter"],
        request["host_filter"],
        request["operation"],
        request["permission_type"],
    )
    try:
        flt.validate()
    except InvalidAcl as exc:
        return _error(ErrorCode.INVALID_REQUEST, str(exc))
    resources: dict[tuple, list] = {}
    for b in authorizer.bindings(flt):
        resources.setdefault((b.resource_type, b.name, b.pattern_type), []).append(
            {"principal": b.principal, "host": b.host, "operation": b.operation, "permission_type": b.permission}
        )
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "error_message": None,
        "resources": [
            {"resource_type": t, "resource_name": n, "pattern_type": p, "acls": acls}
            for (t, n, p), acls in resources.items()
        ],
    }
