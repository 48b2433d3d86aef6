"""AlterUserScramCredentials (key 51), version 0: upsert and delete users' SCRAM credentials. The
client sends the salt and the salted password (never the password); the broker derives and
stores stored_key and server_key, as Kafka. Needs ALTER on the cluster. Kafka's refusals per
user: an unknown mechanism (UNSUPPORTED_SASL_MECHANISM), iterations outside 4096-16384
(UNACCEPTABLE_CREDENTIAL), an empty name or salt, the same user twice (DUPLICATE_RESOURCE),
deleting what does not exist (RESOURCE_NOT_FOUND). Runs at the controller, the one writer of
the credentials; every process follows within a second."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType
from hpbroker.security.scram import MAX_ITERATIONS, MECHANISM_NAMES, MIN_ITERATIONS, credential_from_salted

API_KEY = 51
MIN_VERSION, MAX_VERSION = 0, 0
ROUTE = Route(CONTROLLER)


async def handle(ctx: RequestContext, request: dict):
    deletions, upsertions = request["deletions"], request["upsertions"]
    users = [d["name"] for d in deletions] + [u["name"] for u in upsertions]
    if not ctx.authorize(Operation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME):
        return _answer({u: (ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.") for u in users})
    store = ctx.broker.credentials
    known = store.users()
    errors: dict[str, tuple[int, str]] = {}
    seen: dict[tuple[str, int], int] = {}
    for entry in list(deletions) + list(upsertions):
        key = (entry["name"], entry["mechanism"])
        seen[key] = seen.get(key, 0) + 1
    for key, n in seen.items():
        if n > 1:
            errors[key[0]] = (
                ErrorCode.DUPLICATE_RESOURCE,
                f"A user credential cannot be altered twice in the same request: {key[0]}",
            )
    upserts, removals = {}, []
    for d in deletions:
        name, mechanism = d["name"], MECHANISM_NAMES.get(d["mechanism"])
        if name in errors:
            continue
        if not name:
            errors[name] = (ErrorCode.UNACCEPTABLE_CREDENTIAL, "Username must not be empty")
        elif mechanism is None:
            errors[name] = (ErrorCode.UNSUPPORTED_SASL_MECHANISM, f"Unknown SCRAM mechanism {d['mechanism']}")
        elif mechanism not in known.get(name, {}):
            errors[name] = (
                ErrorCode.RESOURCE_NOT_FOUND,
                f"Attempt to delete a user credential that does not exist: {name}",
            )
        else:
            removals.append((name, mechanism))
    for u in upsertions:
        name, mechanism = u["name"], MECHANISM_NAMES.get(u["mechanism"])
        if name in errors:
            continue
        if not name:
            errors[name] = (ErrorCode.UNACCEPTABLE_CREDENTIAL, "Username must not be empty")
        elif mechanism is None:
            errors[name] = (ErrorCode.UNSUPPORTED_SASL_MECHANISM, f"Unknown SCRAM mechanism {u['mechanism']}")
        elif not MIN_ITERATIONS <= u["iterations"] <= MAX_ITERATIONS:
            errors[name] = (
                ErrorCode.UNACCEPTABLE_CREDENTIAL,
                f"Iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}",
            )
        elif not u["salt"] or not u["salted_password"]:
            errors[name] = (ErrorCode.UNACCEPTABLE_CREDENTIAL, "Salt and salted password must not be empty")
        else:
            upserts[(name, mechanism)] = credential_from_salted(
                mechanism, bytes(u["salted_password"]), bytes(u["salt"]), u["iterations"]
            )
    upserts = {k: v for k, v in upserts.items() if k[0] not in errors}
    removals = [k for k in removals if k[0] not in errors]
    if upserts or removals:
        store.alter(upserts, removals)
        await ctx.broker.controller.security_changed()
    return _answer({u: errors.get(u, (0, None)) for u in users})


def _answer(by_user: dict) -> dict:
    return {
        "throttle_time_ms": 0,
        "results": [{"user": u, "error_code": code, "error_message": msg} for u, (code, msg) in by_user.items()],
    }
