"""DescribeUserScramCredentials (key 50), version 0: each user's SCRAM mechanisms and iteration
counts (never the credentials). Needs DESCRIBE on the cluster. Users null or empty: every user;
a named user without credentials: RESOURCE_NOT_FOUND; named twice: DUPLICATE_RESOURCE, as
Kafka. Runs at the controller, which writes the credentials."""

from collections import Counter

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType
from hpbroker.security.scram import MECHANISM_CODES

API_KEY = 50
MIN_VERSION, MAX_VERSION = 0, 0
ROUTE = Route(CONTROLLER)


def handle(ctx: RequestContext, request: dict):
    if not ctx.authorize(Operation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME):
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
            "error_message": "Cluster authorization failed.",
            "results": [],
        }
    users = ctx.broker.credentials.users()
    named = [u["name"] for u in request["users"] or ()]
    counts = Counter(named)
    results = []
    for user in named or sorted(users):
        if counts.get(user, 1) > 1:
            results.append(
                {"user": user, "error_code": ErrorCode.DUPLICATE_RESOURCE, "error_message": f"Cannot describe user {user} twice", "credential_infos": []}
            )  # fmt: skip
            counts[user] = 1  # one answer per duplicated name
            continue
        mechs = users.get(user)
        if not mechs:
            results.append(
                {"user": user, "error_code": ErrorCode.RESOURCE_NOT_FOUND, "error_message": f"Attempt to describe a user credential that does not exist: {user}", "credential_infos": []}
            )  # fmt: skip
            continue
        results.append(
            {
                "user": user,
                "error_code": 0,
                "error_message": None,
                "credential_infos": [
                    {"mechanism": MECHANISM_CODES[m], "iterations": c.iterations} for m, c in sorted(mechs.items())
                ],
            }
        )
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "results": results}
