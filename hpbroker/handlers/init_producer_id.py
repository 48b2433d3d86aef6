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

API_KEY = 22
MIN_VERSION, MAX_VERSION = 0, 4
ROUTE = Route(CONTROLLER)


async def handle(ctx: RequestContext, request: dict):
    if request.get("transactional_id") is not None:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.INVALID_REQUEST, "producer_id": -1, "producer_epoch": -1}
    try:
        producer_id = await ctx.broker.controller.next_producer_id()
    except ControllerError as exc:
        return {"throttle_time_ms": 0, "error_code": exc.code, "producer_id": -1, "producer_epoch": -1}
    return {"throttle_time_ms": 0, "error_code": 0, "producer_id": producer_id, "producer_epoch": 0}
