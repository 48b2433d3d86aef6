"""EndTxn (key 26), versions 0-3: commit or abort the producer's open transaction.

The coordinator writes PrepareCommit or PrepareAbort, answers, then has the markers written and
the transaction completed (transaction/coordinator.py). WRITE on the TRANSACTIONAL_ID is
required. Before v2 PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 26
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(CONTROLLER)


async def handle(ctx: RequestContext, request: dict):
    txn_id = request["transactional_id"]
    if not ctx.authorize(Operation.WRITE, ResourceType.TRANSACTIONAL_ID, txn_id):
        code = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    elif not await ctx.broker.txn_coordinator.start():
        code = ErrorCode.COORDINATOR_NOT_AVAILABLE
    else:
        code = await ctx.broker.txn_coordinator.end_txn(
            txn_id, request["producer_id"], request["producer_epoch"], request["committed"]
        )
    if code == ErrorCode.PRODUCER_FENCED and ctx.api_version < 2:
        code = ErrorCode.INVALID_PRODUCER_EPOCH
    return {"throttle_time_ms": 0, "error_code": code}
