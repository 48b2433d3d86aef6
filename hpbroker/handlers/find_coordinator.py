"""FindCoordinator (key 10), versions 0-2: which node coordinates a group.

key_type 0 (group): the leader of the group's __consumer_offsets partition, from the metadata
cache: this node, which leads every partition on a single node (which of its processes holds the
group's shard is the server's routing, not the client's concern). The first request starts the
group coordinator, which has the controller create the topic (COORDINATOR_NOT_AVAILABLE while it
cannot: no room under the open-file limit, a disk that refuses it).

key_type 1 (transaction): hpbroker runs no transaction coordinator. The answer is
TRANSACTIONAL_ID_AUTHORIZATION_FAILED with a message saying so, the one answer to this lookup that
clients treat as fatal (librdkafka's init_transactions fails at once with it, the Java producer
throws): with COORDINATOR_NOT_AVAILABLE, which they retry, a transactional producer waited
forever ("Timed out ... retry call to resume"). Any other key_type: INVALID_REQUEST, as Kafka.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 10
MIN_VERSION, MAX_VERSION = 0, 2
ROUTE = Route(PROCESSOR)

GROUP, TRANSACTION = 0, 1


NO_TRANSACTIONS = (
    "hpbroker does not support transactions (no transaction coordinator): use a producer without transactional.id"
)


def handle(ctx: RequestContext, request: dict):
    key_type = request.get("key_type", GROUP)
    if key_type == TRANSACTION:
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "error_message": NO_TRANSACTIONS,
            "node_id": -1,
            "host": "",
            "port": -1,
        }
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


def _coordinator_of(broker, group_id, listener):
    metadata = broker.metadata
    state = metadata.partition_state(GROUP_METADATA_TOPIC, broker.group_coordinator.partition_for(group_id or ""))
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
