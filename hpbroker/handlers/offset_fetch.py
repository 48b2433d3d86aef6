"""OffsetFetch (key 9), versions 1-5: a group's committed offsets.

Any group state. A partition without a commit answers offset -1 with error 0; v2+ topics null
means every committed partition of the group; the leader epoch (v5+) is the committed one or -1.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUP, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 9
MIN_VERSION, MAX_VERSION = 1, 5
ROUTE = Route(GROUP, group_field="group_id")


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    group_id = request["group_id"]
    topics = request["topics"]
    wanted = None if topics is None else [(t["name"], t["partition_indexes"]) for t in topics]
    if not ctx.authorize(Operation.DESCRIBE, ResourceType.GROUP, group_id):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED, "topics": []}
    shard = ctx.broker.group_coordinator.shard_for(group_id)
    if shard is None:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.NOT_COORDINATOR, "topics": []}
    committed = shard.fetch_offsets(group_id, wanted)
    by_topic: dict[str, list] = {}
    allowed: dict[str, bool] = {}
    for (topic, p), v in sorted(committed.items()) if wanted is None else committed.items():
        ok = allowed.get(topic)
        if ok is None:
            ok = allowed[topic] = ctx.authorize(Operation.DESCRIBE, ResourceType.TOPIC, topic)
        if not ok:
            if wanted is not None:  # named: TOPIC_AUTHORIZATION_FAILED; all topics: left out, as Kafka
                by_topic.setdefault(topic, []).append(
                    {
                        "partition_index": p,
                        "committed_offset": -1,
                        "committed_leader_epoch": -1,
                        "metadata": "",
                        "error_code": ErrorCode.TOPIC_AUTHORIZATION_FAILED,
                    }
                )
            continue
        by_topic.setdefault(topic, []).append(
            {
                "partition_index": p,
                "committed_offset": -1 if v is None else v.offset,
                "committed_leader_epoch": -1 if v is None else v.leader_epoch,
                "metadata": "" if v is None else v.metadata,
                "error_code": 0,
            }
        )
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "topics": [{"name": t, "partitions": parts} for t, parts in by_topic.items()],
    }
