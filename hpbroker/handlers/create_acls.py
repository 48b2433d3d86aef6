"""CreateAcls (key 30), versions 0-2: add ACL bindings (security/authorizer.py). Needs ALTER on
the cluster (CLUSTER_AUTHORIZATION_FAILED); a binding Kafka would refuse is INVALID_REQUEST with
the reason, the others are added. Without an authorizer: SECURITY_DISABLED, as Kafka. Runs at
the controller, the one writer of the ACLs."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, AclBinding, InvalidAcl, Operation, ResourceType

API_KEY = 30
MIN_VERSION, MAX_VERSION = 0, 2
ROUTE = Route(CONTROLLER)


def _all(request, code, message):
    return {
        "throttle_time_ms": 0,
        "results": [{"error_code": code, "error_message": message} for _ in request["creations"]],
    }


def handle(ctx: RequestContext, request: dict):
    authorizer = ctx.broker.authorizer
    if authorizer is None:
        return _all(request, ErrorCode.SECURITY_DISABLED, "No Authorizer is configured.")
    if not ctx.authorize(Operation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME):
        return _all(request, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.")
    results, valid = [], []
    for c in request["creations"]:
        binding = AclBinding(
            c["resource_type"],
            c["resource_name"],
            c.get("resource_pattern_type", 3),
            c["principal"],
            c["host"],
            c["operation"],
            c["permission_type"],
        )
        try:
            binding.validate()
        except (InvalidAcl, ValueError) as exc:
            results.append({"error_code": ErrorCode.INVALID_REQUEST, "error_message": str(exc)})
            continue
        valid.append(binding)
        results.append({"error_code": 0, "error_message": None})
    if valid:
        authorizer.create(valid)
    return {"throttle_time_ms": 0, "results": results}
