"""CreateTopics (key 19), versions 0-4.

Errors as Kafka chooses them: an illegal name -> INVALID_TOPIC_EXCEPTION; existing topic ->
TOPIC_ALREADY_EXISTS; partitions 0 or below -1, or more than the broker's open-file limit leaves
room for (storage/fd_limits.py) -> INVALID_PARTITIONS; a replication factor above
the number of brokers (1) -> INVALID_REPLICATION_FACTOR; assignments naming another broker ->
INVALID_REPLICA_ASSIGNMENT; unknown config or bad value -> INVALID_CONFIG; the same topic twice in
one request -> INVALID_REQUEST; a disk that refuses the topic's files or the registry ->
KAFKA_STORAGE_ERROR, with nothing of the topic left behind. ``validate_only`` checks everything and creates nothing.
num_partitions / replication_factor -1 (v4+) take the broker defaults.
"""

from collections import Counter

from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.config import ConfigError, validate_topic_configs
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


def _check(broker, t):
    name = t["name"]
    try:
        validate_topic_name(name)
    except InvalidTopic as exc:
        raise _Refused(ErrorCode.INVALID_TOPIC_EXCEPTION, str(exc)) from None
    if name in broker.metadata.topics:
        raise _Refused(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
    assignments = t.get("assignments") or []
    num_partitions, rf = t["num_partitions"], t["replication_factor"]
    if assignments:
        if num_partitions != -1 or rf != -1:
            raise _Refused(
                ErrorCode.INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set."
            )
        indexes = sorted(a["partition_index"] for a in assignments)
        if indexes != list(range(len(indexes))):
            raise _Refused(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "Partitions must be numbered from 0 without gaps.")
        for a in assignments:
            if a["broker_ids"] != [broker.node.node_id]:
                raise _Refused(
                    ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"Unknown broker(s) in assignment {a['broker_ids']}"
                )
        num_partitions = len(assignments)
    if num_partitions == -1:
        num_partitions = broker.config.get("num.partitions")
    if rf == -1:
        rf = broker.config.get("default.replication.factor")
    if num_partitions <= 0:
        raise _Refused(ErrorCode.INVALID_PARTITIONS, "Number of partitions must be larger than 0.")
    room = partition_room()
    if num_partitions > room:
        raise _Refused(ErrorCode.INVALID_PARTITIONS, no_room_message(num_partitions, room))
    if rf <= 0:
        raise _Refused(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.")
    if rf > 1:
        raise _Refused(
            ErrorCode.INVALID_REPLICATION_FACTOR, f"Replication factor: {rf} larger than available brokers: 1."
        )
    try:
        configs = validate_topic_configs({c["name"]: c["value"] for c in t.get("configs") or []}, broker.config)
    except ConfigError as exc:
        raise _Refused(ErrorCode.INVALID_CONFIG, str(exc)) from None
    return name, num_partitions, configs


async def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    counts = Counter(t["name"] for t in request["topics"])
    results = []
    # Kafka: CREATE on the cluster, else CREATE on each topic
    cluster_create = ctx.authorize(Operation.CREATE, ResourceType.CLUSTER, CLUSTER_NAME)
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
            name, num_partitions, configs = _check(broker, t)
        except _Refused as exc:
            res["error_code"], res["error_message"] = exc.code, str(exc)
            results.append(res)
            continue
        if not request.get("validate_only", False):
            try:
                await broker.controller.create_topic(name, num_partitions, configs)
            except ControllerError as exc:  # a full disk: nothing of the topic is left behind
                res["error_code"], res["error_message"] = exc.code, exc.message
                results.append(res)
                continue
        res["num_partitions"], res["replication_factor"] = num_partitions, 1
        results.append(res)
    return {"throttle_time_ms": 0, "topics": results}
