"""InitProducerId (key 22), versions 0-4: a new producer id (epoch 0) for an idempotent producer.

v3+ may carry the producer's current id and epoch (KIP-360: a producer that lost track of its
sequence numbers asks for a bumped epoch). Without a transactional id Kafka's transaction
coordinator "always blindly" hands out a new producer id with epoch 0, whatever id and epoch the
request carries, and so does this handler: the producer starts afresh under the new id.

Producer ids are unique across restarts of the node (seeded from the clock at start-up), so a
restarted broker never hands out an id whose sequence state is still in a log. Transactions are
not supported yet: a transactional id is refused with INVALID_REQUEST, since this node runs no
transaction coordinator.
"""

from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType

API_KEY = 22
MIN_VERSION, MAX_VERSION = 0, 4
ROUTE = Route(CONTROLLER)


async def handle(ctx: RequestContext, request: dict):
    transactional_id = request.get("transactional_id")
    if transactional_id is not None:
        if not ctx.authorize(Operation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional_id):
            code = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        else:
            code = ErrorCode.INVALID_REQUEST
        return {"throttle_time_ms": 0, "error_code": code, "producer_id": -1, "producer_epoch": -1}
    # KIP-679: an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic
    if not ctx.authorize(Operation.IDEMPOTENT_WRITE, ResourceType.CLUSTER, CLUSTER_NAME) and not ctx.authorize_any(
        Operation.WRITE, ResourceType.TOPIC
    ):
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
            "producer_id": -1,
            "producer_epoch": -1,
        }
    try:
        producer_id = await ctx.broker.controller.next_producer_id()
    except ControllerError as exc:
        return {"throttle_time_ms": 0, "error_code": exc.code, "producer_id": -1, "producer_epoch": -1}
    return {"throttle_time_ms": 0, "error_code": 0, "producer_id": producer_id, "producer_epoch": 0}
