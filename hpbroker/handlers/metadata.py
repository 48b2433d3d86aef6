"""Metadata (key 3): brokers, controller and the partitions of the requested topics.

Topics: v0 empty list = all topics; v1+ null = all, empty = none (brokers only). A missing topic
is created when ``auto.create.topics.enable`` and the request allows it (v4+ flag), and answered
LEADER_NOT_AVAILABLE on that first request, as Kafka does while a topic is being created; the
client asks again and finds it. The controller id is this node, so admin clients send their
requests here. Leader epoch is constant (0) on a single node. Authorized operations, when asked
(v8+), are all of them (handlers/authorized.py).
"""
import logging
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.handlers import authorized
from hpbroker.metadata.topics import InvalidTopic, validate_topic_name
from hpbroker.protocol.errors import ErrorCode
from hpbroker.storage.fd_limits import partition_room
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)

API_KEY = 3
MIN_VERSION, MAX_VERSION = 0, 8
ROUTE = Route(PROCESSOR)


def _topic_entry(ctx, info, operations=authorized.NOT_REQUESTED):
    node_id = ctx.broker.node.node_id
    return {
        "error_code": 0,
        "name": info.name,
        "is_internal": info.internal,
        "topic_authorized_operations": operations,
        "partitions": [
            {
                "error_code": 0,
                "partition_index": i,
                "leader_id": node_id,
                "leader_epoch": 0,
                "replica_nodes": [node_id],
                "isr_nodes": [node_id],
                "offline_replicas": [],
            }
            for i in range(info.num_partitions)
        ],
    }


def _error_entry(name, code):
    return {"error_code": code, "name": name, "is_internal": False, "partitions": []}


def handle(ctx, request):
    broker = ctx.broker
    requested = request.get("topics")
    topic_ops = authorized.operations(request.get("include_topic_authorized_operations", False), authorized.TOPIC)
    if requested is None or (ctx.api_version == 0 and not requested):
        topics = [_topic_entry(ctx, t, topic_ops) for t in broker.topics]
    else:
        allow_create = request.get("allow_auto_topic_creation", True) and broker.config.get("auto.create.topics.enable")
        topics = []
        for t in requested:
            name = t["name"]
            info = broker.topics.get(name)
            if info is not None:
                topics.append(_topic_entry(ctx, info, topic_ops))
                continue
            try:
                validate_topic_name(name or "")
            except InvalidTopic:
                topics.append(_error_entry(name, ErrorCode.INVALID_TOPIC_EXCEPTION))
                continue
            if allow_create and broker.config.get("num.partitions") > partition_room():
                # out of open files: not created, as a refused CreateTopics (storage/fd_limits.py)
                topics.append(_error_entry(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
            elif allow_create:
                try:
                    broker.create_topic(name, broker.config.get("num.partitions"), {})
                    topics.append(_error_entry(name, ErrorCode.LEADER_NOT_AVAILABLE))
                except OSError as exc:  # a full disk: not created, as a refused CreateTopics
                    warn_storage_failure(log, ("create", name), "cannot create topic %r: %s", name, exc)
                    topics.append(_error_entry(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
            else:
                topics.append(_error_entry(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
    node = broker.node
    return {
        "throttle_time_ms": 0,
        "brokers": [{"node_id": node.node_id, "host": node.host, "port": node.port, "rack": None}],
        "cluster_id": broker.cluster_id,
        "controller_id": node.node_id,
        "topics": topics,
        "cluster_authorized_operations": authorized.operations(
            request.get("include_cluster_authorized_operations", False), authorized.CLUSTER),
    }
