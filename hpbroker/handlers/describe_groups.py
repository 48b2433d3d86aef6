"""DescribeGroups (key 15), versions 0-4: state, protocol and members of groups.

As Kafka's GroupMetadata.summary: members' metadata and assignments only when Stable (otherwise
they are being replaced); an unknown group is described as Dead with no error. Authorized
operations, when asked (v3+), are all a group supports (broker/authorized.py).
"""

from hpbroker.broker import authorized
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUPS, GroupSplit, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.coordinator.state import GroupState
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 15
MIN_VERSION, MAX_VERSION = 0, 4
ROUTE = Route(GROUPS, groups=GroupSplit("groups", "groups"))


def _describe(ctx, group_id, operations=authorized.NOT_REQUESTED):
    out = {
        "error_code": 0,
        "group_id": group_id,
        "group_state": GroupState.DEAD.value,
        "protocol_type": "",
        "protocol_data": "",
        "members": [],
        "authorized_operations": operations,
    }
    if not group_id:
        out["error_code"] = ErrorCode.INVALID_GROUP_ID
        return out
    shard = ctx.broker.group_coordinator.shard_for(group_id)
    if shard is None:
        out["error_code"] = ErrorCode.NOT_COORDINATOR
        return out
    group = shard.groups.get(group_id)
    if group is None:
        return out
    stable = group.is_(GroupState.STABLE)
    out.update(
        group_state=group.state.value,
        protocol_type=group.protocol_type or "",
        protocol_data=(group.protocol_name or "") if stable else "",
    )
    out["members"] = [
        {
            "member_id": m.member_id,
            "group_instance_id": m.group_instance_id,
            "client_id": m.client_id,
            "client_host": m.client_host,
            "member_metadata": m.metadata(group.protocol_name) if stable else b"",
            "member_assignment": m.assignment if stable else b"",
        }
        for m in group.members.values()
    ]
    return out


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    asked = request.get("include_authorized_operations", False)
    groups = []
    for g in request["groups"]:
        if not ctx.authorize(Operation.DESCRIBE, ResourceType.GROUP, g):
            groups.append(_denied(g))
            continue
        ops = authorized.operations(asked, ctx.authorized_operations(ResourceType.GROUP, g, authorized.GROUP))
        groups.append(_describe(ctx, g, ops))
    return {"throttle_time_ms": 0, "groups": groups}


def _denied(group_id):
    return {
        "error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED,
        "group_id": group_id,
        "group_state": "",
        "protocol_type": "",
        "protocol_data": "",
        "members": [],
        "authorized_operations": authorized.NOT_REQUESTED,
    }
