"""JoinGroup (key 11), versions 0-5: join or rejoin a group; long-polls until the rebalance ends.

The shard decides (MEMBER_ID_REQUIRED round on v4+, INVALID_SESSION_TIMEOUT, INCONSISTENT_GROUP_
PROTOCOL, UNKNOWN_MEMBER_ID, ...); a join that must wait for the other members is parked as a
future and answered when the rebalance completes, without holding the event loop.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUP, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 11
MIN_VERSION, MAX_VERSION = 0, 5
ROUTE = Route(GROUP, group_field="group_id")


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    coordinator = ctx.broker.group_coordinator
    if not ctx.authorize(Operation.READ, ResourceType.GROUP, request["group_id"]):
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED,
            "generation_id": -1,
            "protocol_name": "",
            "leader": "",
            "member_id": request["member_id"],
            "members": [],
        }
    shard = coordinator.shard_for(request["group_id"])
    if shard is None:
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.NOT_COORDINATOR,
            "generation_id": -1,
            "protocol_name": "",
            "leader": "",
            "member_id": request["member_id"],
            "members": [],
        }
    records, result = shard.join_group(request, ctx.api_version, ctx.client_id or "", ctx.client_host)
    return coordinator.complete(shard, records, result)
