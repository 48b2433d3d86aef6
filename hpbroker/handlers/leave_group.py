"""LeaveGroup (key 13), versions 0-3: members leave; the group rebalances without them.

v0-2 name one member (errors top-level); v3+ a batch of (member_id, group_instance_id) with an
error per member (KIP-345).
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUP, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 13
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(GROUP, group_field="group_id")


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    group_id = request["group_id"]
    if ctx.api_version >= 3:
        leaving = [(m["member_id"], m.get("group_instance_id")) for m in request["members"]]
    else:
        leaving = [(request["member_id"], None)]
    if not ctx.authorize(Operation.READ, ResourceType.GROUP, group_id):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED, "members": []}
    shard = ctx.broker.group_coordinator.shard_for(group_id)
    if shard is None:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.NOT_COORDINATOR, "members": []}
    records, error, errors = shard.leave_group(group_id, leaving)
    shard.write_or_warn(records)  # the members are gone either way, as in Kafka
    if ctx.api_version < 3:
        return {"throttle_time_ms": 0, "error_code": error or (errors[0] if errors else 0)}
    return {
        "throttle_time_ms": 0,
        "error_code": error,
        "members": [{"member_id": m, "group_instance_id": i, "error_code": e} for (m, i), e in zip(leaving, errors)],
    }
