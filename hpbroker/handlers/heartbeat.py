"""Heartbeat (key 12), versions 0-3: keeps a member's session alive; says when to rejoin
(REBALANCE_IN_PROGRESS), when its generation is stale (ILLEGAL_GENERATION) or it is unknown."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUP, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 12
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(GROUP, group_field="group_id")


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    coordinator = ctx.broker.group_coordinator
    if not ctx.authorize(Operation.READ, ResourceType.GROUP, request["group_id"]):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED}
    shard = coordinator.shard_for(request["group_id"])
    if shard is None:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.NOT_COORDINATOR}
    records, result = shard.heartbeat(request)
    return coordinator.complete(shard, records, result)
