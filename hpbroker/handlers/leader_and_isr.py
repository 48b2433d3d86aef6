"""LeaderAndIsr (key 4), versions 0-5: the controller tells this broker which partitions it
leads or follows (Kafka's ReplicaManager.becomeLeaderOrFollower; replication/
cluster_replica_manager.py applies it).

Only a broker in a cluster takes it (on a single node the connection is closed, as for an API
it does not know). A request of an older controller epoch is STALE_CONTROLLER_EPOCH, one meant
for an earlier registration of this broker (an older broker epoch) STALE_BROKER_EPOCH; per
partition, a leader epoch not newer than the one held is STALE_CONTROLLER_EPOCH, a replica list
without this broker UNKNOWN_TOPIC_OR_PARTITION, a log that cannot be opened KAFKA_STORAGE_ERROR.
The sender needs CLUSTER_ACTION on the cluster (CLUSTER_AUTHORIZATION_FAILED), as in Kafka.
Versions 0-1 list partitions ungrouped; 2+ by topic (5+ with topic ids, and answers by topic id).
"""

from hpbroker.broker.control_requests import LeaderAndIsrState
from hpbroker.broker.request import CloseConnection, RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType

API_KEY = 4
MIN_VERSION, MAX_VERSION = 0, 5
ROUTE = Route(CONTROLLER)


def _states(request: dict) -> tuple[list[LeaderAndIsrState], dict[str, bytes]]:
    topic_ids: dict[str, bytes] = {}
    pairs = [(p["topic_name"], p) for p in request.get("ungrouped_partition_states") or []]
    for t in request.get("topic_states") or []:
        if t.get("topic_id") and any(t["topic_id"]):
            topic_ids[t["topic_name"]] = bytes(t["topic_id"])
        pairs.extend((t["topic_name"], p) for p in t["partition_states"])
    states = [
        LeaderAndIsrState(
            topic,
            p["partition_index"],
            p["controller_epoch"],
            p["leader"],
            p["leader_epoch"],
            tuple(p["isr"]),
            p["partition_epoch"],
            tuple(p["replicas"]),
            p.get("is_new", False),
        )
        for topic, p in pairs
    ]
    return states, topic_ids


async def _answer(ctx: RequestContext, request: dict) -> dict:
    states, topic_ids = _states(request)
    error, errors = await ctx.broker.cluster.leader_and_isr(
        request["controller_id"], request["controller_epoch"], request.get("broker_epoch", -1), states, topic_ids
    )
    return _format(ctx, error, errors, topic_ids)


def _format(ctx: RequestContext, error: int, errors: dict, topic_ids: dict) -> dict:
    if ctx.api_version < 5:
        return {
            "error_code": error,
            "partition_errors": [
                {"topic_name": t, "partition_index": p, "error_code": code} for (t, p), code in errors.items()
            ],
        }
    by_topic: dict[str, list[dict]] = {}
    for (t, p), code in errors.items():
        by_topic.setdefault(t, []).append({"partition_index": p, "error_code": code})
    return {
        "error_code": error,
        "topics": [
            {"topic_id": topic_ids.get(t, bytes(16)), "partition_errors": parts} for t, parts in by_topic.items()
        ],
    }


def handle(ctx: RequestContext, request: dict):
    if ctx.broker.cluster is None:
        raise CloseConnection("LeaderAndIsr is for a broker in a cluster")
    if not ctx.authorize(Operation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME):
        states, topic_ids = _states(request)
        code = ErrorCode.CLUSTER_AUTHORIZATION_FAILED
        return _format(ctx, code, {(s.topic, s.partition): code for s in states}, topic_ids)
    return _answer(ctx, request)
