"""SyncGroup (key 14), versions 0-3: the leader hands in the assignment; every member gets its own.

In CompletingRebalance a member's SyncGroup is parked until the leader's arrives; the leader's
completes the generation (Stable) and persists the group's metadata record.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUP, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 14
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(GROUP, group_field="group_id")


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    coordinator = ctx.broker.group_coordinator
    if not ctx.authorize(Operation.READ, ResourceType.GROUP, request["group_id"]):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED, "assignment": b""}
    shard = coordinator.shard_for(request["group_id"])
    if shard is None:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.NOT_COORDINATOR, "assignment": b""}
    records, result = shard.sync_group(request)
    return coordinator.complete(shard, records, result)
