"""CreateTopics (key 19), versions 0-4.

Errors as Kafka chooses them: an illegal name -> INVALID_TOPIC_EXCEPTION; existing topic ->
TOPIC_ALREADY_EXISTS; partitions 0 or below -1, or more than the broker's open-file limit leaves
room for (storage/fd_limits.py) -> INVALID_PARTITIONS; a replication factor above
the number of live brokers -> INVALID_REPLICATION_FACTOR; on a single node, assignments naming another broker ->
INVALID_REPLICA_ASSIGNMENT; in a cluster, a broker that is not the controller answers every topic
NOT_CONTROLLER (clients ask the controller Metadata names), and the controller completes when
every new partition has a leader (timeout_ms 0: once the topic is written); unknown config or bad value -> INVALID_CONFIG; the same topic twice in
one request -> INVALID_REQUEST; a disk that refuses the topic's files or the registry ->
KAFKA_STORAGE_ERROR, with nothing of the topic left behind. ``validate_only`` checks everything and creates nothing.
num_partitions / replication_factor -1 (v4+) take the broker defaults; the broker's own request
for ``__consumer_offsets`` (a processor's, ``ctx.internal``) leaves a factor of -1 to the
controller, which takes offsets.topic.replication.factor capped by the live brokers, as for the
coordinator of the in-process topology.
"""

from collections import Counter

from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.config import ConfigError, validate_topic_configs
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.metadata.topics import InvalidTopic, validate_topic_name
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType
from hpbroker.storage.fd_limits import no_room_message, partition_room

API_KEY = 19
MIN_VERSION, MAX_VERSION = 0, 4
ROUTE = Route(CONTROLLER)


class _Refused(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _check(broker, t, internal: bool = False):
    """(name, partitions, replication factor, assignment or None, configs) of a topic to create;
    _Refused with Kafka's code and text otherwise."""
    name = t["name"]
    try:
        validate_topic_name(name)
    except InvalidTopic as exc:
        raise _Refused(ErrorCode.INVALID_TOPIC_EXCEPTION, str(exc)) from None
    if name in broker.metadata.topics:
        raise _Refused(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
    assignments = t.get("assignments") or []
    num_partitions, rf = t["num_partitions"], t["replication_factor"]
    assignment = None
    if assignments:
        if num_partitions != -1 or rf != -1:
            raise _Refused(
                ErrorCode.INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set."
            )
        indexes = sorted(a["partition_index"] for a in assignments)
        if indexes != list(range(len(indexes))):
            raise _Refused(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "Partitions must be numbered from 0 without gaps.")
        assignment = {a["partition_index"]: list(a["broker_ids"]) for a in assignments}
        for ids in assignment.values():
            if broker.cluster is None and ids != [broker.node.node_id]:
                raise _Refused(ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"Unknown broker(s) in assignment {ids}")
            if len(ids) != len(set(ids)):
                raise _Refused(
                    ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"Duplicate replica assignment found: {assignment}"
                )
        if len({len(ids) for ids in assignment.values()}) != 1:
            raise _Refused(
                ErrorCode.INVALID_REPLICA_ASSIGNMENT, "All partitions should have the same number of replicas"
            )
        num_partitions, rf = len(assignment), len(assignment[0])
    if num_partitions == -1:
        num_partitions = broker.config.get("num.partitions")
    offsets_default = internal and rf == -1 and name == GROUP_METADATA_TOPIC  # the controller decides it
    if rf == -1 and not offsets_default:
        rf = broker.config.get("default.replication.factor")
    if num_partitions <= 0:
        raise _Refused(ErrorCode.INVALID_PARTITIONS, "Number of partitions must be larger than 0.")
    room = partition_room()
    if num_partitions > room:
        raise _Refused(ErrorCode.INVALID_PARTITIONS, no_room_message(num_partitions, room))
    if rf <= 0 and not offsets_default:
        raise _Refused(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.")
    live = len(broker.metadata.alive_brokers())
    if assignment is None and rf > live:
        raise _Refused(
            ErrorCode.INVALID_REPLICATION_FACTOR, f"Replication factor: {rf} larger than available brokers: {live}."
        )
    try:
        configs = validate_topic_configs({c["name"]: c["value"] for c in t.get("configs") or []}, broker.config)
    except ConfigError as exc:
        raise _Refused(ErrorCode.INVALID_CONFIG, str(exc)) from None
    return name, num_partitions, rf, assignment, configs


async def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    counts = Counter(t["name"] for t in request["topics"])
    results = []
    # Kafka: CREATE on the cluster, else CREATE on each topic
    cluster_create = ctx.authorize(Operation.CREATE, ResourceType.CLUSTER, CLUSTER_NAME)
    # a broker creates the topics it needs (auto-creation, __consumer_offsets) on any broker
    active = broker.controller.is_active or ctx.internal
    wait = request.get("timeout_ms", 1) > 0
    for t in request["topics"]:
        name = t["name"]
        res = {
            "name": name,
            "error_code": 0,
            "error_message": None,
            "num_partitions": -1,
            "replication_factor": -1,
            "configs": None,
        }
        if not active:
            res["error_code"] = ErrorCode.NOT_CONTROLLER
            res["error_message"] = "This is not the correct controller for this cluster."
            results.append(res)
            continue
        if counts[name] > 1:
            res["error_code"] = ErrorCode.INVALID_REQUEST
            res["error_message"] = f"Create topics request from client contains multiple entries for {name}"
            results.append(res)
            continue
        if not cluster_create and not ctx.authorize(Operation.CREATE, ResourceType.TOPIC, name):
            res["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
            res["error_message"] = "Authorization failed."
            results.append(res)
            continue
        try:
            name, num_partitions, rf, assignment, configs = _check(broker, t, ctx.internal)
        except _Refused as exc:
            res["error_code"], res["error_message"] = exc.code, str(exc)
            results.append(res)
            continue
        if not request.get("validate_only", False):
            try:
                await broker.controller.create_topic(name, num_partitions, configs, rf, assignment, wait)
            except ControllerError as exc:  # a full disk: nothing of the topic is left behind
                res["error_code"], res["error_message"] = exc.code, exc.message
                results.append(res)
                continue
        res["num_partitions"], res["replication_factor"] = num_partitions, rf
        results.append(res)
    return {"throttle_time_ms": 0, "topics": results}
