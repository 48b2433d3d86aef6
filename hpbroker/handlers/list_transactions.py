"""ListTransactions (key 66), versions 0-1 (KIP-664): the transactional ids this broker
coordinates, filtered by state, producer id and (v1) how long the transaction has been open;
only ids the principal may DESCRIBE. Unknown state names come back in
``unknown_state_filters``, as Kafka's."""

import time

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.security.acl import Operation, ResourceType
from hpbroker.transaction.state import TransactionState

API_KEY = 66
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(CONTROLLER)


async def handle(ctx: RequestContext, request: dict):
    names = {s.value for s in TransactionState}
    states = set(request.get("state_filters") or [])
    unknown = sorted(states - names)
    pids = set(request.get("producer_id_filters") or [])
    duration = request.get("duration_filter", -1)
    now = int(time.time() * 1000)
    coordinator = ctx.broker.txn_coordinator
    await coordinator.start()
    out = []
    for meta in coordinator.list() if coordinator.started else []:
        if states and meta.state.value not in states:
            continue
        if pids and meta.producer_id not in pids:
            continue
        if duration is not None and duration >= 0 and (meta.start_ms < 0 or now - meta.start_ms < duration):
            continue
        if not ctx.authorize(Operation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, meta.transactional_id):
            continue
        out.append(
            {
                "transactional_id": meta.transactional_id,
                "producer_id": meta.producer_id,
                "transaction_state": meta.state.value,
            }
        )
    return {"throttle_time_ms": 0, "error_code": 0, "unknown_state_filters": unknown, "transaction_states": out}
