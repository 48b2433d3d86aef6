"""ListOffsets (key 2), versions 1-8: offsets by timestamp.

timestamp -2 (earliest) -> log start offset; -1 (latest) -> high watermark, or the last stable
offset for a read_committed request (isolation_level 1, v2+); t >= 0 -> the first offset whose batch has a timestamp >= t, from the time
index, or offset -1 if there is none. Leader epoch (v4+) is constant on a single node.

-3 (MAX_TIMESTAMP, KIP-734) -> the first record with the highest timestamp, and that timestamp;
-4 (EARLIEST_LOCAL, KIP-405) -> the log start offset, since every segment is local. Kafka's
brokers answer both whatever the request version (clients gate them at v7 and v8; librdkafka
sends -3 at any version the broker has), so they are answered here too. Found offsets at or
above the high watermark (read_committed: the last stable offset) are not given out (offset and
timestamp -1), as Kafka filters them.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PARTITIONED, Route, Split
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 2
MIN_VERSION, MAX_VERSION = 1, 8
ROUTE = Route(PARTITIONED, Split("topics", "name", "partitions", "partition_index", "topics", "name", "partitions"))

LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL = -1, -2, -3, -4


READ_COMMITTED = 1


def _lookup(partition, timestamp, read_committed: bool):
    bound = partition.last_stable_offset if read_committed else partition.high_watermark
    if timestamp == LATEST:
        return -1, bound
    if timestamp in (EARLIEST, EARLIEST_LOCAL):
        return -1, partition.log_start_offset
    if timestamp == MAX_TIMESTAMP:
        found = partition.log.offset_of_max_timestamp()
    elif timestamp < 0:
        return None
    else:
        found = partition.log.offset_for_timestamp(timestamp)
    if found is None:
        return -1, -1
    offset, ts = found
    if offset >= bound:
        return -1, -1
    return ts, max(offset, partition.log_start_offset)


def handle(ctx: RequestContext, request: dict):
    rm = ctx.broker.replica_manager
    read_committed = request.get("isolation_level", 0) == READ_COMMITTED
    topics = []
    for t in request["topics"]:
        parts = []
        denied = not ctx.authorize(Operation.DESCRIBE, ResourceType.TOPIC, t["name"])
        for p in t["partitions"]:
            index = p["partition_index"]
            partition = None if denied else rm.partition(t["name"], index)
            ans = {
                "partition_index": index,
                "error_code": 0,
                "old_style_offsets": [],
                "timestamp": -1,
                "offset": -1,
                "leader_epoch": -1,
            }
            if denied:
                ans["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
            elif partition is None:
                ans["error_code"] = rm.not_led_error(t["name"], index)
            else:
                epoch = p.get("current_leader_epoch", -1)
                if epoch >= 0 and epoch != partition.leader_epoch:
                    ans["error_code"] = (
                        ErrorCode.UNKNOWN_LEADER_EPOCH
                        if epoch > partition.leader_epoch
                        else ErrorCode.FENCED_LEADER_EPOCH
                    )
                else:
                    found = _lookup(partition, p["timestamp"], read_committed)
                    if found is None:
                        ans["error_code"] = ErrorCode.INVALID_REQUEST
                    else:
                        ans["timestamp"], ans["offset"] = found
                        ans["leader_epoch"] = partition.leader_epoch
            parts.append(ans)
        topics.append({"name": t["name"], "partitions": parts})
    return {"throttle_time_ms": 0, "topics": topics}
