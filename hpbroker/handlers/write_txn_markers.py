"""WriteTxnMarkers (key 27), versions 0-1: a transaction coordinator has this broker, the leader
of the named partitions, append COMMIT or ABORT markers (transaction/markers.py).

Broker to broker: CLUSTER_ACTION on the cluster is required (CLUSTER_AUTHORIZATION_FAILED for
every partition). Per partition: the leader's errors (NOT_LEADER_OR_FOLLOWER,
UNKNOWN_TOPIC_OR_PARTITION), INVALID_PRODUCER_EPOCH for a marker older than the producer's
epoch, TRANSACTION_COORDINATOR_FENCED for one from an older coordinator. A replicated partition
answers once its ISR has the marker (Kafka appends markers with acks=all: REQUEST_TIMED_OUT,
NOT_LEADER_OR_FOLLOWER otherwise; the coordinator retries). In the multi-process
topology the request is cut by owning handler, marker by marker (``Split.outer``).
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PARTITIONED, Route, Split
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType
from hpbroker.transaction.markers import apply_marker, settle

API_KEY = 27
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(
    PARTITIONED,
    Split(
        "topics",
        "name",
        "partition_indexes",
        None,
        "topics",
        "name",
        "partitions",
        outer="markers",
        outer_key="producer_id",
    ),
)


def handle(ctx: RequestContext, request: dict):
    allowed = ctx.authorize(Operation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME)
    codes: dict[tuple[int, str, int], int] = {}
    waiting: dict[tuple[int, str, int], object] = {}
    for i, m in enumerate(request["markers"]):
        for t in m["topics"]:
            for index in t["partition_indexes"]:
                key = (i, t["name"], index)
                if not allowed:
                    codes[key] = ErrorCode.CLUSTER_AUTHORIZATION_FAILED
                    continue
                codes[key], wait = apply_marker(
                    ctx.broker,
                    m["producer_id"],
                    m["producer_epoch"],
                    m["transaction_result"],
                    m["coordinator_epoch"],
                    t["name"],
                    index,
                )
                if wait is not None:
                    waiting[key] = wait
    if waiting:
        return _after_replication(request, codes, waiting)
    return _response(request, codes)


async def _after_replication(request, codes, waiting):
    return _response(request, await settle(codes, waiting))


def _response(request, codes):
    return {
        "markers": [
            {
                "producer_id": m["producer_id"],
                "topics": [
                    {
                        "name": t["name"],
                        "partitions": [
                            {"partition_index": index, "error_code": codes[(i, t["name"], index)]}
                            for index in t["partition_indexes"]
                        ],
                    }
                    for t in m["topics"]
                ],
            }
            for i, m in enumerate(request["markers"])
        ]
    }
