"""StopReplica (key 5), versions 0-3: the controller tells this broker to stop replicas, and to
delete them when their topic is being deleted (Kafka's ReplicaManager.stopReplicas; replication/
cluster_replica_manager.py applies it).

Only a broker in a cluster takes it. A request of an older controller epoch is
STALE_CONTROLLER_EPOCH, of an older broker epoch STALE_BROKER_EPOCH; per partition, a leader
epoch not newer than the one held is FENCED_LEADER_EPOCH (-2, a topic being deleted, and -1, none
given, always apply). Versions 0-2 carry one delete flag for the whole request (0 ungrouped, 1-2
by topic); 3 a flag and a leader epoch per partition. The sender needs CLUSTER_ACTION on the
cluster (CLUSTER_AUTHORIZATION_FAILED), as in Kafka.
"""

from hpbroker.broker.control_requests import StopReplicaState
from hpbroker.broker.request import CloseConnection, RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType

API_KEY = 5
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(CONTROLLER)

NO_EPOCH = -1


def _states(request: dict) -> list[StopReplicaState]:
    delete = request.get("delete_partitions", False)
    states = [
        StopReplicaState(p["topic_name"], p["partition_index"], NO_EPOCH, delete)
        for p in request.get("ungrouped_partitions") or []
    ]
    for t in request.get("topics") or []:
        states.extend(StopReplicaState(t["name"], i, NO_EPOCH, delete) for i in t["partition_indexes"])
    for t in request.get("topic_states") or []:
        states.extend(
            StopReplicaState(t["topic_name"], p["partition_index"], p["leader_epoch"], p["delete_partition"])
            for p in t["partition_states"]
        )
    return states


async def _answer(ctx: RequestContext, request: dict) -> dict:
    error, errors = await ctx.broker.cluster.stop_replica(
        request["controller_id"], request["controller_epoch"], request.get("broker_epoch", -1), _states(request)
    )
    return _format(error, errors)


def _format(error: int, errors: dict) -> dict:
    return {
        "error_code": error,
        "partition_errors": [
            {"topic_name": t, "partition_index": p, "error_code": code} for (t, p), code in errors.items()
        ],
    }


def handle(ctx: RequestContext, request: dict):
    if ctx.broker.cluster is None:
        raise CloseConnection("StopReplica is for a broker in a cluster")
    if not ctx.authorize(Operation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME):
        code = ErrorCode.CLUSTER_AUTHORIZATION_FAILED
        return _format(code, {(s.topic, s.partition): code for s in _states(request)})
    return _answer(ctx, request)
