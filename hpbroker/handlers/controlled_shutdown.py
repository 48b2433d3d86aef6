"""ControlledShutdown (key 7), versions 1-3: a broker about to stop asks the controller to move
its leaderships to other replicas first (Kafka's KafkaController.doControlledShutdown).

Only the controller of a cluster takes it: another broker answers NOT_CONTROLLER (the stopping
broker asks the one ZooKeeper names), a request from an older registration of the stopping
broker STALE_BROKER_EPOCH, an unknown broker BROKER_NOT_AVAILABLE. The answer lists the
partitions the broker still leads that have another replica (none: it may stop); a partition
with one replica has nowhere to go, and goes offline when the broker stops. Version 0 (its
request header has no client id) is not served. The stopping broker needs CLUSTER_ACTION on the
cluster (CLUSTER_AUTHORIZATION_FAILED), as in Kafka.
"""

from hpbroker.broker.request import CloseConnection, RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType

API_KEY = 7
MIN_VERSION, MAX_VERSION = 1, 3
ROUTE = Route(CONTROLLER)


async def _answer(ctx: RequestContext, request: dict) -> dict:
    error, remaining = await ctx.broker.cluster.controlled_shutdown(
        request["broker_id"], request.get("broker_epoch", -1)
    )
    return {
        "error_code": error,
        "remaining_partitions": [{"topic_name": t, "partition_index": p} for t, p in remaining],
    }


def handle(ctx: RequestContext, request: dict):
    if ctx.broker.cluster is None:
        raise CloseConnection("ControlledShutdown is for the controller of a cluster")
    if not ctx.authorize(Operation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME):
        return {"error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "remaining_partitions": []}
    return _answer(ctx, request)
