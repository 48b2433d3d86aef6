"""DescribeCluster (key 60), versions 0-1: the cluster id, the controller and the brokers
(AdminClient ``describe_cluster``; what Metadata says about the cluster, without topics).

EndpointType (v1) 1 = brokers is the only kind a broker describes (2 = controllers is for a
KRaft controller's listener): UNSUPPORTED_ENDPOINT_TYPE otherwise, as Kafka's brokers answer.
Asked for its authorized operations, the cluster has all of them (broker/authorized.py).
"""

from hpbroker.broker import authorized
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType

API_KEY = 60
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(PROCESSOR)

BROKERS = 1


def handle(ctx: RequestContext, request: dict):
    broker, metadata = ctx.broker, ctx.broker.metadata
    endpoint_type = request.get("endpoint_type", BROKERS)
    answer = {
        "throttle_time_ms": 0,
        "error_code": 0,
        "error_message": None,
        "endpoint_type": endpoint_type,
        "cluster_id": broker.cluster_id,
        "controller_id": metadata.controller_id,
        "brokers": [],
        "cluster_authorized_operations": authorized.NOT_REQUESTED,
    }
    if not ctx.authorize(Operation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME):
        answer.update(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED, error_message="Cluster authorization failed.")
        return answer
    if endpoint_type != BROKERS:
        answer.update(
            error_code=ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
            controller_id=-1,
            error_message=f"The request was sent to an endpoint of type BROKER, but "
            f"endpoint type {endpoint_type} was requested.",
        )
        return answer
    answer["brokers"] = [
        {"broker_id": n.node_id, "host": n.host, "port": n.port, "rack": n.rack}
        for n in metadata.alive_brokers(ctx.session.listener)
    ]
    answer["cluster_authorized_operations"] = authorized.operations(
        request.get("include_cluster_authorized_operations", False),
        ctx.authorized_operations(ResourceType.CLUSTER, CLUSTER_NAME, authorized.CLUSTER),
    )
    return answer
