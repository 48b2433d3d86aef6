"""DeleteRecords (key 21), versions 0-1: move a partition's log start offset forward.

offset -1 means "up to the high watermark"; an offset above the high watermark or below zero ->
OFFSET_OUT_OF_RANGE. Whole segments below the new log start offset are deleted; the answer's
low_watermark is the new log start offset. Internal topics -> INVALID_TOPIC_EXCEPTION (Kafka's
"Cannot delete records of internal topic"): ``__consumer_offsets`` is the groups' state, trimmed
by its coordinators' own compaction.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PARTITIONED, Route, Split
from hpbroker.metadata.topics import INTERNAL_TOPICS
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 21
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(PARTITIONED, Split("topics", "name", "partitions", "partition_index", "topics", "name", "partitions"))


def handle(ctx: RequestContext, request: dict):
    rm = ctx.broker.replica_manager
    topics = []
    for t in request["topics"]:
        parts = []
        for p in t["partitions"]:
            index, offset = p["partition_index"], p["offset"]
            partition = rm.partition(t["name"], index)
            ans = {"partition_index": index, "low_watermark": -1, "error_code": 0}
            if not ctx.authorize(Operation.DELETE, ResourceType.TOPIC, t["name"]):
                ans["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
            elif partition is None:
                ans["error_code"] = rm.not_led_error(t["name"], index)
            elif t["name"] in INTERNAL_TOPICS:
                ans["error_code"] = ErrorCode.INVALID_TOPIC_EXCEPTION
            else:
                if offset == -1:
                    offset = partition.high_watermark
                if offset < 0 or offset > partition.high_watermark:
                    ans["error_code"] = ErrorCode.OFFSET_OUT_OF_RANGE
                else:
                    if offset > partition.log_start_offset:
                        partition.log.advance_log_start_offset(offset)
                    ans["low_watermark"] = partition.log_start_offset
            parts.append(ans)
        topics.append({"name": t["name"], "partitions": parts})
    return {"throttle_time_ms": 0, "topics": topics}
