"""FindCoordinator (key 10), versions 0-2: which node coordinates a group.

key_type 0 (group): this node, which leads every __consumer_offsets partition on a single node
(which of its processes holds the group's shard is the server's routing, not the client's
concern); the topic is created and its shards loaded on the first request (COORDINATOR_NOT_AVAILABLE
while the open-file limit leaves no room for its partitions). key_type 1 (transaction): no transaction coordinator
yet -> COORDINATOR_NOT_AVAILABLE, which clients treat as retriable.
"""
from hpbroker.protocol.errors import ErrorCode

API_KEY = 10
MIN_VERSION, MAX_VERSION = 0, 2

GROUP, TRANSACTION = 0, 1


def handle(ctx, request):
    key_type = request.get("key_type", GROUP)
    if key_type != GROUP:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE,
                "error_message": "no transaction coordinator on this broker",
                "node_id": -1, "host": "", "port": -1}
    if not ctx.broker.ensure_group_coordinator():
        return {"throttle_time_ms": 0, "error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE,
                "error_message": "the group coordinator cannot open its partitions (open-file limit)",
                "node_id": -1, "host": "", "port": -1}
    node = ctx.broker.node
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None,
            "node_id": node.node_id, "host": node.host, "port": node.port}
