"""InitProducerId (key 22), versions 0-4: a producer id and epoch.

Without a transactional id: a new producer id with epoch 0 for an idempotent producer. v3+ may
carry the producer's current id and epoch (KIP-360: a producer that lost track of its sequence
numbers asks for a bumped epoch); Kafka's transaction coordinator "always blindly" hands out a
new producer id with epoch 0 whatever they are, and so does this handler. Producer ids are
unique across restarts of the node (seeded from the clock at start-up).

With a transactional id: the transaction coordinator's answer (transaction/coordinator.py): the
id's producer id with its epoch bumped, fencing the previous producer; an open transaction is
aborted first (CONCURRENT_TRANSACTIONS, retried by clients). WRITE on the TRANSACTIONAL_ID is
required (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); a broker that does not coordinate the id
answers NOT_COORDINATOR. Before v4 PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH, as
Kafka does for clients that do not know it.
"""

from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType

API_KEY = 22
MIN_VERSION, MAX_VERSION = 0, 4
ROUTE = Route(CONTROLLER)


def _answer(code, producer_id=-1, epoch=-1):
    return {"throttle_time_ms": 0, "error_code": code, "producer_id": producer_id, "producer_epoch": epoch}


async def handle(ctx: RequestContext, request: dict):
    transactional_id = request.get("transactional_id")
    if transactional_id is not None:
        if not ctx.authorize(Operation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional_id):
            return _answer(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        coordinator = ctx.broker.txn_coordinator
        if not await coordinator.start():
            return _answer(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        code, pid, epoch = await coordinator.init_producer_id(
            transactional_id,
            request["transaction_timeout_ms"],
            request.get("producer_id", -1),
            request.get("producer_epoch", -1),
        )
        if code == ErrorCode.PRODUCER_FENCED and ctx.api_version < 4:
            code = ErrorCode.INVALID_PRODUCER_EPOCH
        return _answer(code, pid, epoch)
    # KIP-679: an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic
    if not ctx.authorize(Operation.IDEMPOTENT_WRITE, ResourceType.CLUSTER, CLUSTER_NAME) and not ctx.authorize_any(
        Operation.WRITE, ResourceType.TOPIC
    ):
        return _answer(ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
    try:
        producer_id = await ctx.broker.controller.next_producer_id()
    except ControllerError as exc:
        return _answer(exc.code)
    return _answer(0, producer_id, 0)
