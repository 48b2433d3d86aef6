"""CreatePartitions (key 37), versions 0-1: grow a topic to ``count`` partitions.

Unknown topic -> UNKNOWN_TOPIC_OR_PARTITION; a count not above the current one ->
INVALID_PARTITIONS, as is growing by more partitions than the broker's open-file limit leaves
room for (storage/fd_limits.py); assignments that name another broker -> INVALID_REPLICA_ASSIGNMENT;
``__consumer_offsets`` -> INVALID_REQUEST: a group's coordinator is the partition its id hashes
to modulo that topic's partition count, so more partitions would move groups away from their
committed offsets (Kafka accepts it and loses them at the next restart). A disk that refuses the
new partitions' files or the registry -> KAFKA_STORAGE_ERROR; the topic keeps its count."""

from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType
from hpbroker.storage.fd_limits import no_room_message, partition_room

API_KEY = 37
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(CONTROLLER)


def _assignment_problem(broker, assignments, added: int) -> str | None:
    """Why the new partitions' replicas cannot be as asked, or None (AdminZkClient's
    validateReplicaAssignment; on a single node, only this broker may hold them)."""
    if len(assignments) != added:
        return f"Increasing the number of partitions by {added} but {len(assignments)} assignments provided."
    live = {n.node_id for n in broker.metadata.alive_brokers()}
    for i, a in enumerate(assignments):
        ids = a["broker_ids"]
        if broker.cluster is None and ids != [broker.node.node_id]:
            return "Invalid replica assignment."
        if not ids:
            return f"Cannot have replication factor of 0 for partition id {i}."
        if len(ids) != len(set(ids)):
            return (
                f"Duplicate brokers not allowed in replica assignment: {', '.join(map(str, ids))} for partition id {i}."
            )
        if not set(ids) <= live:
            return (
                f"Some brokers specified for partition id {i} are not available. Specified brokers: "
                f"{', '.join(map(str, ids))}, available brokers: {', '.join(map(str, sorted(live)))}."
            )
        if len(ids) != 1:
            return (
                f"Inconsistent replication factor between partitions, partition 0 has 1 while partitions [{i}] "
                f"have replication factors [{len(ids)}], respectively."
            )
    return None


async def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    results = []
    active = broker.controller.is_active
    for t in request["topics"]:
        name, count = t["name"], t["count"]
        info = broker.metadata.topics.get(name)
        code, message = 0, None
        if not active:
            code, message = ErrorCode.NOT_CONTROLLER, "This is not the correct controller for this cluster."
        elif not ctx.authorize(Operation.ALTER, ResourceType.TOPIC, name):
            code, message = ErrorCode.TOPIC_AUTHORIZATION_FAILED, "Authorization failed."
        elif info is None:
            code, message = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"The topic '{name}' does not exist."
        elif name == GROUP_METADATA_TOPIC:
            code = ErrorCode.INVALID_REQUEST
            message = (
                f"The partitions of {name} cannot be changed: groups are placed by its "
                f"partition count ({info.num_partitions})."
            )
        elif count <= info.num_partitions:
            code = ErrorCode.INVALID_PARTITIONS
            message = (
                f"Topic currently has {info.num_partitions} partitions, which is higher than the requested {count}."
                if count < info.num_partitions
                else f"Topic already has {count} partitions."
            )
        elif count - info.num_partitions > (room := partition_room()):
            code, message = ErrorCode.INVALID_PARTITIONS, no_room_message(count - info.num_partitions, room)
        elif t.get("assignments") is not None and (
            problem := _assignment_problem(broker, t["assignments"], count - info.num_partitions)
        ):
            code, message = ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem
        elif not request.get("validate_only", False):
            assignment = None if t.get("assignments") is None else [a["broker_ids"] for a in t["assignments"]]
            try:
                await broker.controller.add_partitions(name, count, assignment)
            except ControllerError as exc:  # a full disk: the topic keeps its partition count
                code, message = exc.code, exc.message
        results.append({"name": name, "error_code": code, "error_message": message})
    return {"throttle_time_ms": 0, "results": results}
