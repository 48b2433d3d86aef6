"""Metadata (key 3): brokers, controller and the partitions of the requested topics.

Topics: v0 empty list = all topics; v1+ null = all, empty = none (brokers only). A missing topic
is created when ``auto.create.topics.enable`` and the request allows it (v4+ flag): the
controller is asked (and awaited: in the multi-process topology a processor asks handler 0),
and the topic answered LEADER_NOT_AVAILABLE on that first request, as Kafka does while a topic
is being created; the client asks again and finds it. A topic the controller could not create
(no room under the open-file limit, a disk that refuses it) is UNKNOWN_TOPIC_OR_PARTITION.
Brokers, each partition's leader, leader epoch, replicas and ISR, and the controller come from
the metadata cache (on a single node: this node, epoch 0; in a cluster, what the controller
sent: a partition whose leader is not a live broker is LEADER_NOT_AVAILABLE, leader -1). Authorized operations, when asked
(v8+), are all of them (broker/authorized.py).
"""

import logging

from hpbroker.broker import authorized
from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.metadata.topics import InvalidTopic, validate_topic_name
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType

log = logging.getLogger(__name__)

API_KEY = 3
MIN_VERSION, MAX_VERSION = 0, 8
ROUTE = Route(PROCESSOR)


def _topic_entry(metadata, info, operations=authorized.NOT_REQUESTED, alive=None):
    """``alive``: the ids of the live brokers, in a cluster (a partition whose leader is not one
    of them is LEADER_NOT_AVAILABLE with leader -1, as Kafka's MetadataCache answers); None on a
    single node, which leads every partition."""
    return {
        "error_code": 0,
        "name": info.name,
        "is_internal": info.internal,
        "topic_authorized_operations": operations,
        "partitions": [
            {
                "error_code": 0 if alive is None or state.leader in alive else ErrorCode.LEADER_NOT_AVAILABLE,
                "partition_index": i,
                "leader_id": state.leader if alive is None or state.leader in alive else -1,
                "leader_epoch": state.leader_epoch,
                "replica_nodes": state.replicas,  # tuples: the encoder takes any sequence
                "isr_nodes": state.isr,
                "offline_replicas": state.offline_replicas,
            }
            for i, state in enumerate(metadata.partition_states(info))
        ],
    }


def _alive(broker):
    if not broker.config.get("zookeeper.connect"):
        return None
    return {n.node_id for n in broker.metadata.alive_brokers()}


def _error_entry(name, code):
    return {"error_code": code, "name": name, "is_internal": False, "partitions": []}


def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    metadata = broker.metadata
    requested = request.get("topics")
    asked_ops = request.get("include_topic_authorized_operations", False)
    checked = broker.authorizer is not None
    alive = _alive(broker)

    def ops(name):
        if not asked_ops:
            return authorized.NOT_REQUESTED
        return ctx.authorized_operations(ResourceType.TOPIC, name, authorized.TOPIC)

    if requested is None or (ctx.api_version == 0 and not requested):
        # every topic the principal may describe; the others are left out, as Kafka does
        return _answer(
            ctx,
            request,
            [
                _topic_entry(metadata, t, ops(t.name), alive)
                for t in metadata.topics
                if not checked or ctx.authorize(Operation.DESCRIBE, ResourceType.TOPIC, t.name)
            ],
        )
    allow_create = request.get("allow_auto_topic_creation", True) and broker.config.get("auto.create.topics.enable")
    topics = []
    to_create = []  # (position in the answer, name)
    for t in requested:
        name = t["name"]
        if checked and not ctx.authorize(Operation.DESCRIBE, ResourceType.TOPIC, name or ""):
            topics.append(_error_entry(name, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
            continue
        info = metadata.topics.get(name)
        if info is not None:
            topics.append(_topic_entry(metadata, info, ops(name), alive))
            continue
        try:
            validate_topic_name(name or "")
        except InvalidTopic:
            topics.append(_error_entry(name, ErrorCode.INVALID_TOPIC_EXCEPTION))
            continue
        if allow_create and checked and not _may_create(ctx, name):
            topics.append(_error_entry(name, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
        elif allow_create:
            to_create.append((len(topics), name))
            topics.append(None)
        else:
            topics.append(_error_entry(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
    if to_create:
        return _create_then_answer(ctx, request, topics, to_create)
    return _answer(ctx, request, topics)


async def _create_then_answer(ctx, request, topics, to_create):
    broker = ctx.broker
    partitions = broker.config.get("num.partitions")
    for at, name in to_create:
        try:
            await broker.controller.create_topic(name, partitions, {}, wait=False)
            code = ErrorCode.LEADER_NOT_AVAILABLE
        except ControllerError as exc:
            # created meanwhile (by another process's request): being created, as ours would be
            code = (
                ErrorCode.LEADER_NOT_AVAILABLE
                if exc.code == ErrorCode.TOPIC_ALREADY_EXISTS
                else ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            )
        topics[at] = _error_entry(name, code)
    return _answer(ctx, request, topics)


def _answer(ctx, request, topics):
    broker = ctx.broker
    metadata = broker.metadata
    listener = ctx.session.listener
    return {
        "throttle_time_ms": 0,
        "brokers": [
            {"node_id": n.node_id, "host": n.host, "port": n.port, "rack": n.rack}
            for n in metadata.alive_brokers(listener)
        ],
        "cluster_id": broker.cluster_id,
        "controller_id": metadata.controller_id,
        "topics": topics,
        "cluster_authorized_operations": authorized.operations(
            request.get("include_cluster_authorized_operations", False),
            ctx.authorized_operations(ResourceType.CLUSTER, CLUSTER_NAME, authorized.CLUSTER),
        ),
    }


def _may_create(ctx, name: str) -> bool:
    """Auto-creation, as Kafka: CREATE on the cluster or on the topic."""
    return ctx.authorize(Operation.CREATE, ResourceType.CLUSTER, CLUSTER_NAME) or ctx.authorize(
        Operation.CREATE, ResourceType.TOPIC, name
    )
