"""DeleteAcls (key 31), versions 0-2: remove the ACL bindings each filter matches, and say which
(security/acl.py's filters). Needs ALTER on the cluster. Without an authorizer: SECURITY_DISABLED,
as Kafka. Runs at the controller, the one writer of the ACLs."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, AclFilter, InvalidAcl, Operation, ResourceType

API_KEY = 31
MIN_VERSION, MAX_VERSION = 0, 2
ROUTE = Route(CONTROLLER)


def filter_of(f: dict) -> AclFilter:
    return AclFilter(
        f["resource_type_filter"],
        f["resource_name_filter"],
        f.get("pattern_type_filter", 3),
        f["principal_filter"],
        f["host_filter"],
        f["operation"],
        f["permission_type"],
    )


def _all(request, code, message):
    return {
        "throttle_time_ms": 0,
        "filter_results": [
            {"error_code": code, "error_message": message, "matching_acls": []} for _ in request["filters"]
        ],
    }


def handle(ctx: RequestContext, request: dict):
    authorizer = ctx.broker.authorizer
    if authorizer is None:
        return _all(request, ErrorCode.SECURITY_DISABLED, "No Authorizer is configured.")
    if not ctx.authorize(Operation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME):
        return _all(request, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.")
    filters, errors = [], {}
    for i, f in enumerate(request["filters"]):
        flt = filter_of(f)
        try:
            flt.validate()
        except InvalidAcl as exc:
            errors[i] = str(exc)
            continue
        filters.append((i, flt))
    removed = authorizer.delete([flt for _, flt in filters]) if filters else []
    by_index = {i: r for (i, _), r in zip(filters, removed)}
    results = []
    for i in range(len(request["filters"])):
        if i in errors:
            results.append({"error_code": ErrorCode.INVALID_REQUEST, "error_message": errors[i], "matching_acls": []})
            continue
        results.append(
            {
                "error_code": 0,
                "error_message": None,
                "matching_acls": [
                    {
                        "error_code": 0,
                        "error_message": None,
                        "resource_type": b.resource_type,
                        "resource_name": b.name,
                        "pattern_type": b.pattern_type,
                        "principal": b.principal,
                        "host": b.host,
                        "operation": b.operation,
                        "permission_type": b.permission,
                    }
                    for b in by_index[i]
                ],
            }
        )
    return {"throttle_time_ms": 0, "filter_results": results}
