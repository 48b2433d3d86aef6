"""AddOffsetsToTxn (key 25), versions 0-3: the group's __consumer_offsets partition joins the
producer's open transaction, so its TxnOffsetCommit offsets are committed or dropped with it
(the group coordinator is told by the transaction's marker on that partition).

WRITE on the TRANSACTIONAL_ID and READ on the GROUP are required, as Kafka's. Before v2
PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.coordinator.records import partition_for
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 25
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(CONTROLLER)


def _answer(code):
    return {"throttle_time_ms": 0, "error_code": code}


async def handle(ctx: RequestContext, request: dict):
    txn_id = request["transactional_id"]
    if not ctx.authorize(Operation.WRITE, ResourceType.TRANSACTIONAL_ID, txn_id):
        return _answer(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    if not ctx.authorize(Operation.READ, ResourceType.GROUP, request["group_id"]):
        return _answer(ErrorCode.GROUP_AUTHORIZATION_FAILED)
    broker = ctx.broker
    if not await broker.group_coordinator.start() or not await broker.txn_coordinator.start():
        return _answer(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    info = broker.metadata.topics.get(GROUP_METADATA_TOPIC)
    if info is None:
        return _answer(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    offsets_partition = (GROUP_METADATA_TOPIC, partition_for(request["group_id"], info.num_partitions))
    code = await broker.txn_coordinator.add_partitions(
        txn_id, request["producer_id"], request["producer_epoch"], [offsets_partition]
    )
    if code == ErrorCode.PRODUCER_FENCED and ctx.api_version < 2:
        code = ErrorCode.INVALID_PRODUCER_EPOCH
    return _answer(code)
