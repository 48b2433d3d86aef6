"""ListGroups (key 16), versions 0-5: every group this process coordinates (all but Dead). In
multi-process mode every handler is asked and the processor concatenates their lists.

v4+ (KIP-518) answers each group's state and takes ``states_filter``; v5 (KIP-848) answers each
group's type and takes ``types_filter``. An empty filter keeps every group; names are compared
case-insensitively, as Kafka's group coordinator does, so a name it does not know matches no
group. Every group here is a classic one (the JoinGroup/SyncGroup protocol), type "classic".

While a __consumer_offsets partition this process owns is not loaded yet (its log not open:
GroupCoordinator.unloaded), the answer lists the groups it has and says
COORDINATOR_LOAD_IN_PROGRESS, as Kafka's coordinator does while it loads one: the list is not
the whole of it, and a client retries.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import EVERY, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType

API_KEY = 16
MIN_VERSION, MAX_VERSION = 0, 5
ROUTE = Route(EVERY)

GROUP_TYPE = "classic"


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    coordinator = ctx.broker.group_coordinator
    # Kafka: DESCRIBE on the cluster lists every group, else the groups the principal may describe
    everything = ctx.authorize(Operation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME)
    if not coordinator.started:  # no __consumer_offsets yet, so no group either
        return {"throttle_time_ms": 0, "error_code": 0, "groups": []}
    error = 0 if coordinator.load_opened() else int(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
    states = {s.lower() for s in request.get("states_filter") or ()}
    types = {t.lower() for t in request.get("types_filter") or ()}
    if types and GROUP_TYPE not in types:
        return {"throttle_time_ms": 0, "error_code": error, "groups": []}
    groups = [
        {
            "group_id": g.group_id,
            "protocol_type": g.protocol_type or "",
            "group_state": g.state.value,
            "group_type": GROUP_TYPE,
        }
        for shard in coordinator.shards.values()
        for g in shard.list_groups()
        if (not states or g.state.value.lower() in states) and (everything or _may_describe(ctx, g.group_id))
    ]
    return {"throttle_time_ms": 0, "error_code": error, "groups": groups}


def _may_describe(ctx, group_id: str) -> bool:
    return ctx.authorize(Operation.DESCRIBE, ResourceType.GROUP, group_id)
