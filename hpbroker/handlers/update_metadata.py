"""UpdateMetadata (key 6), versions 0-7: the controller's view of the live brokers and of
partitions' leaders, replicas and ISR, which this broker's metadata cache takes (Kafka's
MetadataCache.updateMetadata): Metadata, FindCoordinator and DescribeCluster answer from it.

Only a broker in a cluster takes it. A request of an older controller epoch is
STALE_CONTROLLER_EPOCH, of an older broker epoch STALE_BROKER_EPOCH. A partition with leader -2
is being deleted: the cache forgets it (and its topic with its last partition). Versions 0-4
list partitions ungrouped, 5+ by topic (7+ with topic ids); version 0 gives each broker one
host and port, 1+ its endpoints (3+ named by listener) and 2+ its rack. The sender needs
CLUSTER_ACTION on the cluster (CLUSTER_AUTHORIZATION_FAILED), as in Kafka.
"""

from hpbroker.broker.control_requests import UpdateMetadataRequest, UpdateMetadataState
from hpbroker.broker.interface import Node
from hpbroker.broker.request import CloseConnection, RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType

API_KEY = 6
MIN_VERSION, MAX_VERSION = 0, 7
ROUTE = Route(CONTROLLER)

PLAINTEXT = 0  # SecurityProtocol id


def _listeners(endpoints: list[dict]) -> tuple[tuple[str, str, int], ...]:
    """(listener name, host, port) of each endpoint: Metadata answers a client with the broker's
    endpoint on the listener it came in on (versions before 3 name none: PLAINTEXT)."""
    return tuple((e.get("listener") or "PLAINTEXT", e["host"], e["port"]) for e in endpoints)


def _node(b: dict) -> Node:
    endpoints = b.get("endpoints")
    if not endpoints:
        return Node(b["id"], b.get("v0_host") or "", b.get("v0_port", -1), rack=b.get("rack"))
    e = next((e for e in endpoints if e.get("security_protocol") == PLAINTEXT), endpoints[0])
    return Node(b["id"], e["host"], e["port"], _listeners(endpoints), b.get("rack"))


def parse(request: dict) -> UpdateMetadataRequest:
    topic_ids: dict[str, bytes] = {}
    pairs = [(p["topic_name"], p) for p in request.get("ungrouped_partition_states") or []]
    for t in request.get("topic_states") or []:
        if t.get("topic_id") and any(t["topic_id"]):
            topic_ids[t["topic_name"]] = bytes(t["topic_id"])
        pairs.extend((t["topic_name"], p) for p in t["partition_states"])
    states = [
        UpdateMetadataState(
            topic,
            p["partition_index"],
            p["controller_epoch"],
            p["leader"],
            p["leader_epoch"],
            tuple(p["isr"]),
            p["zk_version"],
            tuple(p["replicas"]),
            tuple(p.get("offline_replicas") or ()),
        )
        for topic, p in pairs
    ]
    return UpdateMetadataRequest(
        request["controller_id"],
        request["controller_epoch"],
        request.get("broker_epoch", -1),
        states,
        topic_ids,
        [_node(b) for b in request["live_brokers"]],
    )


async def _answer(ctx: RequestContext, request: dict) -> dict:
    return {"error_code": await ctx.broker.cluster.update_metadata(parse(request))}


def handle(ctx: RequestContext, request: dict):
    if ctx.broker.cluster is None:
        raise CloseConnection("UpdateMetadata is for a broker in a cluster")
    if not ctx.authorize(Operation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME):
        return {"error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED}
    return _answer(ctx, request)
