"""AddPartitionsToTxn (key 24), versions 0-3: a transactional producer's partitions join its
open transaction (transaction/coordinator.py).

Checks as Kafka's: WRITE on the TRANSACTIONAL_ID (else every partition is answered
TRANSACTIONAL_ID_AUTHORIZATION_FAILED), WRITE on each topic (TOPIC_AUTHORIZATION_FAILED) and
the partition's existence (UNKNOWN_TOPIC_OR_PARTITION); when any partition fails a check the
others are answered OPERATION_NOT_ATTEMPTED. Otherwise every partition gets the coordinator's
answer. Before v2 PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 24
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(CONTROLLER)


def _response(request, errors):
    return {
        "throttle_time_ms": 0,
        "results_by_topic_v3_and_below": [
            {
                "name": t["name"],
                "results_by_partition": [
                    {"partition_index": p, "partition_error_code": errors[(t["name"], p)]} for p in t["partitions"]
                ],
            }
            for t in request["v3_and_below_topics"]
        ],
    }


async def handle(ctx: RequestContext, request: dict):
    txn_id = request["v3_and_below_transactional_id"]
    wanted = [(t["name"], p) for t in request["v3_and_below_topics"] for p in t["partitions"]]
    if not ctx.authorize(Operation.WRITE, ResourceType.TRANSACTIONAL_ID, txn_id):
        return _response(request, dict.fromkeys(wanted, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED))
    topics = ctx.broker.metadata.topics
    failed = {}
    for topic, p in wanted:
        info = topics.get(topic)
        if not ctx.authorize(Operation.WRITE, ResourceType.TOPIC, topic):
            failed[(topic, p)] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
        elif info is None or not 0 <= p < info.num_partitions:
            failed[(topic, p)] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    if failed:
        return _response(request, {tp: failed.get(tp, ErrorCode.OPERATION_NOT_ATTEMPTED) for tp in wanted})
    coordinator = ctx.broker.txn_coordinator
    if not await coordinator.start():
        code = ErrorCode.COORDINATOR_NOT_AVAILABLE
    else:
        code = await coordinator.add_partitions(
            txn_id, request["v3_and_below_producer_id"], request["v3_and_below_producer_epoch"], wanted
        )
    if code == ErrorCode.PRODUCER_FENCED and ctx.api_version < 2:
        code = ErrorCode.INVALID_PRODUCER_EPOCH
    return _response(request, dict.fromkeys(wanted, code))
