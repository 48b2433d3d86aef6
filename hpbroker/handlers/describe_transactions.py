"""DescribeTransactions (key 65), version 0 (KIP-664): the state of each named transactional id,
from its coordinator (NOT_COORDINATOR elsewhere, TRANSACTIONAL_ID_NOT_FOUND for an unknown id,
TRANSACTIONAL_ID_AUTHORIZATION_FAILED without DESCRIBE on it)."""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 65
MIN_VERSION, MAX_VERSION = 0, 0
ROUTE = Route(CONTROLLER)


def _state(txn_id, code, meta=None):
    topics: dict[str, list[int]] = {}
    if meta is not None:
        for t, p in sorted(meta.partitions):
            topics.setdefault(t, []).append(p)
    return {
        "error_code": code,
        "transactional_id": txn_id,
        "transaction_state": meta.state.value if meta is not None else "",
        "transaction_timeout_ms": meta.timeout_ms if meta is not None else 0,
        "transaction_start_time_ms": meta.start_ms if meta is not None else -1,
        "producer_id": meta.producer_id if meta is not None else -1,
        "producer_epoch": meta.producer_epoch if meta is not None else -1,
        "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()],
    }


async def handle(ctx: RequestContext, request: dict):
    coordinator = ctx.broker.txn_coordinator
    started = await coordinator.start()
    out = []
    for txn_id in request["transactional_ids"]:
        if not ctx.authorize(Operation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, txn_id):
            out.append(_state(txn_id, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED))
        elif not started:
            out.append(_state(txn_id, ErrorCode.COORDINATOR_NOT_AVAILABLE))
        else:
            code, meta = coordinator.describe(txn_id)
            out.append(_state(txn_id, code, meta))
    return {"throttle_time_ms": 0, "transaction_states": out}
