"""OffsetForLeaderEpoch (key 23), versions 0-4: where a leader epoch ends in the leader's log.

Asked by followers before they fetch (KIP-101: they truncate to the answer, never to their own
high watermark) and by consumers after a leader change (KIP-320) to find out whether their
position survived. Per partition (Kafka's Partition.lastOffsetForLeaderEpoch): only the leader
answers (NOT_LEADER_OR_FOLLOWER elsewhere, UNKNOWN_TOPIC_OR_PARTITION for an unknown one); a
``current_leader_epoch`` older than the leader's is FENCED_LEADER_EPOCH, a newer one
UNKNOWN_LEADER_EPOCH; the answer is the largest epoch at or below ``leader_epoch`` in the leader
epoch cache and the offset where it ends: the start of the next epoch, or the log end offset for
the latest (KIP-279); -1/-1 when the cache has no such epoch. A follower (``replica_id`` >= 0)
needs CLUSTER_ACTION on the cluster, a consumer DESCRIBE on the topic, as in Kafka.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PARTITIONED, Route, Split
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType
from hpbroker.storage.leader_epoch import UNDEFINED_EPOCH, UNDEFINED_OFFSET

API_KEY = 23
MIN_VERSION, MAX_VERSION = 0, 4
ROUTE = Route(PARTITIONED, Split("topics", "topic", "partitions", "partition", "topics", "topic", "partitions"))


def _answer(index: int, code: int, epoch: int = UNDEFINED_EPOCH, end_offset: int = UNDEFINED_OFFSET) -> dict:
    return {"error_code": code, "partition": index, "leader_epoch": epoch, "end_offset": end_offset}


def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    rm = broker.replica_manager
    topics = broker.metadata.topics
    follower = request.get("replica_id", -1) >= 0
    cluster_denied = follower and not ctx.authorize(Operation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME)
    out = []
    for t in request["topics"]:
        name = t["topic"]
        answers = []
        if cluster_denied:
            denied = ErrorCode.CLUSTER_AUTHORIZATION_FAILED
        elif not follower and not ctx.authorize(Operation.DESCRIBE, ResourceType.TOPIC, name):
            denied = ErrorCode.TOPIC_AUTHORIZATION_FAILED
        else:
            denied = ErrorCode.NONE
        if denied:
            out.append({"topic": name, "partitions": [_answer(pr["partition"], denied) for pr in t["partitions"]]})
            continue
        for pr in t["partitions"]:
            index = pr["partition"]
            partition = rm.partition(name, index) if name in topics else None
            if partition is None:
                code = rm.not_led_error(name, index) if name in topics else ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                answers.append(_answer(index, code))
                continue
            current = pr.get("current_leader_epoch", -1)
            if current >= 0 and current != partition.leader_epoch:
                code = (
                    ErrorCode.FENCED_LEADER_EPOCH
                    if current < partition.leader_epoch
                    else ErrorCode.UNKNOWN_LEADER_EPOCH
                )
                answers.append(_answer(index, code))
                continue
            epoch, end = partition.log.leader_epoch_cache.end_offset_for(pr["leader_epoch"], partition.log_end_offset)
            answers.append(_answer(index, ErrorCode.NONE, epoch, end))
        out.append({"topic": name, "partitions": answers})
    return {"throttle_time_ms": 0, "topics": out}
