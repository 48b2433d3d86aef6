"""WriteTxnMarkers (key 27), versions 0-1: a transaction coordinator has this broker, the leader
of the named partitions, append COMMIT or ABORT markers (transaction/markers.py).

Broker to broker: CLUSTER_ACTION on the cluster is required (CLUSTER_AUTHORIZATION_FAILED for
every partition). Per partition: the leader's errors (NOT_LEADER_OR_FOLLOWER,
UNKNOWN_TOPIC_OR_PARTITION), INVALID_PRODUCER_EPOCH for a marker older than the producer's
epoch, TRANSACTION_COORDINATOR_FENCED for one from an older coordinator. In the multi-process
topology the request is cut by owning handler, marker by marker (``Split.outer``).
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PARTITIONED, Route, Split
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType
from hpbroker.transaction.markers import apply_marker

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
    out = []
    for m in request["markers"]:
        topics = []
        for t in m["topics"]:
            parts = []
            for index in t["partition_indexes"]:
                if not allowed:
                    code = ErrorCode.CLUSTER_AUTHORIZATION_FAILED
                else:
                    code = apply_marker(
                        ctx.broker,
                        m["producer_id"],
                        m["producer_epoch"],
                        m["transaction_result"],
                        m["coordinator_epoch"],
                        t["name"],
                        index,
                    )
                parts.append({"partition_index": index, "error_code": code})
            topics.append({"name": t["name"], "partitions": parts})
        out.append({"producer_id": m["producer_id"], "topics": topics})
    return {"markers": out}
