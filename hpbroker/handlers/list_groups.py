"""ListGroups (key 16), versions 0-2: every group this process coordinates (all but Dead). In
multi-process mode every handler is asked and the processor concatenates their lists."""
from hpbroker.coordinator.coordinator import get_coordinator

API_KEY = 16
MIN_VERSION, MAX_VERSION = 0, 2


def handle(ctx, request):
    coordinator = get_coordinator(ctx.broker)
    if coordinator is None:  # no __consumer_offsets yet, so no group either
        return {"throttle_time_ms": 0, "error_code": 0, "groups": []}
    groups = [{"group_id": g.group_id, "protocol_type": g.protocol_type or "", "group_state": g.state.value}
              for shard in coordinator.shards.values() for g in shard.list_groups()]
    return {"throttle_time_ms": 0, "error_code": 0, "groups": groups}
