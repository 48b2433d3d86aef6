"""FindCoordinator (key 10), versions 0-2: which node coordinates a group.

key_type 0 (group): the leader of the group's __consumer_offsets partition, from the metadata
cache: this node, which leads every partition on a single node (which of its processes holds the
group's shard is the server's routing, not the client's concern). The first request starts the
group coordinator, which has the controller create the topic (COORDINATOR_NOT_AVAILABLE while it
cannot: no room under the open-file limit, a disk that refuses it).

key_type 1 (transaction): the leader of the transactional id's __transaction_state partition
(DESCRIBE on the TRANSACTIONAL_ID, else TRANSACTIONAL_ID_AUTHORIZATION_FAILED); the first such
request starts the transaction coordinator, which has the controller create the topic. Any other
key_type: INVALID_REQUEST, as Kafka.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType
from hpbroker.transaction.coordinator import TRANSACTION_STATE_TOPIC

API_KEY = 10
MIN_VERSION, MAX_VERSION = 0, 2
ROUTE = Route(PROCESSOR)

GROUP, TRANSACTION = 0, 1


def _error(code, message=None):
    return {"throttle_time_ms": 0, "error_code": code, "error_message": message, "node_id": -1, "host": "", "port": -1}


def handle(ctx: RequestContext, request: dict):
    key_type = request.get("key_type", GROUP)
    if key_type == TRANSACTION:
        if not ctx.authorize(Operation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, request["key"]):
            return _error(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        if ctx.broker.txn_coordinator.started:
            return _txn_coordinator_of(ctx.broker, request["key"], ctx.session.listener)
        return _start_txn_then_answer(ctx.broker, request["key"], ctx.session.listener)
    if key_type != GROUP:
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.INVALID_REQUEST,
            "error_message": "Unknown coordinator type in FindCoordinator request",
            "node_id": -1,
            "host": "",
            "port": -1,
        }
    if not ctx.authorize(Operation.DESCRIBE, ResourceType.GROUP, request["key"]):
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED,
            "error_message": None,
            "node_id": -1,
            "host": "",
            "port": -1,
        }
    if ctx.broker.group_coordinator.started:
        return _coordinator_of(ctx.broker, request["key"], ctx.session.listener)
    return _start_then_answer(ctx.broker, request["key"], ctx.session.listener)


async def _start_then_answer(broker, group_id, listener):
    if not await broker.group_coordinator.start():
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE,
            "error_message": "the group coordinator cannot create its partitions "
            "(open-file limit, or a disk that refuses writes)",
            "node_id": -1,
            "host": "",
            "port": -1,
        }
    return _coordinator_of(broker, group_id, listener)


async def _start_txn_then_answer(broker, txn_id, listener):
    if not await broker.txn_coordinator.start():
        return _error(
            ErrorCode.COORDINATOR_NOT_AVAILABLE,
            "the transaction coordinator cannot create its partitions (open-file limit, or a disk that refuses writes)",
        )
    return _txn_coordinator_of(broker, txn_id, listener)


def _txn_coordinator_of(broker, txn_id, listener):
    p = broker.txn_coordinator.partition_for(txn_id or "")
    return _leader_of(broker, TRANSACTION_STATE_TOPIC, p, listener)


def _coordinator_of(broker, group_id, listener):
    return _leader_of(broker, GROUP_METADATA_TOPIC, broker.group_coordinator.partition_for(group_id or ""), listener)


def _leader_of(broker, topic, index, listener):
    metadata = broker.metadata
    state = metadata.partition_state(topic, index)
    node = next((n for n in metadata.alive_brokers(listener) if state is not None and n.node_id == state.leader), None)
    if node is None:  # its partition has no live leader
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE,
            "error_message": None,
            "node_id": -1,
            "host": "",
            "port": -1,
        }
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "error_message": None,
        "node_id": node.node_id,
        "host": node.host,
        "port": node.port,
    }
