"""OffsetDelete (key 47), version 0: delete a group's committed offsets of some partitions
(KIP-496; ``kafka-consumer-groups --delete-offsets``, AdminClient
``delete_consumer_group_offsets``).

As Kafka: partitions of unknown topics, or past a topic's partition count, answer
UNKNOWN_TOPIC_OR_PARTITION and go no further; the group then decides the rest
(``GroupCoordinatorShard.delete_offsets``): an Empty group loses them all, a consumer group with
members keeps the offsets of topics it subscribes to (GROUP_SUBSCRIBED_TO_TOPIC per partition).
A group-level error (INVALID_GROUP_ID, GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, NOT_COORDINATOR) is
the whole answer, with no topics. Deletion writes tombstones to ``__consumer_offsets``; if they
cannot be written (a full disk) the answer is NOT_COORDINATOR and no offset is gone.
"""

import logging

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUP, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)

API_KEY = 47
MIN_VERSION, MAX_VERSION = 0, 0
ROUTE = Route(GROUP, group_field="group_id")


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    topics = ctx.broker.metadata.topics
    asked = [(t["name"], p["partition_index"]) for t in request["topics"] for p in t["partitions"]]
    errors = {}
    known = []
    if not ctx.authorize(Operation.DELETE, ResourceType.GROUP, request["group_id"]):
        return _group_error(ErrorCode.GROUP_AUTHORIZATION_FAILED)
    for topic, partition in asked:
        info = topics.get(topic)
        if not ctx.authorize(Operation.READ, ResourceType.TOPIC, topic):
            errors[(topic, partition)] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
        elif info is None or not 0 <= partition < info.num_partitions:
            errors[(topic, partition)] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        else:
            known.append((topic, partition))
    coordinator = ctx.broker.group_coordinator
    shard = coordinator.shard_for(request["group_id"])
    if shard is None:
        return _group_error(ErrorCode.NOT_COORDINATOR)
    records, group_error, decided = shard.delete_offsets(request["group_id"], known)
    if group_error:
        return _group_error(group_error)
    try:
        coordinator.write(shard, records)
    except OSError as exc:
        warn_storage_failure(
            log,
            ("__consumer_offsets", shard.partition_index),
            "cannot delete offsets of group %r: %s",
            request["group_id"],
            exc,
        )
        return _group_error(ErrorCode.NOT_COORDINATOR)
    errors.update(decided)
    topics: dict[str, list] = {}
    for tp in asked:
        topics.setdefault(tp[0], []).append({"partition_index": tp[1], "error_code": errors[tp]})
    return {
        "error_code": 0,
        "throttle_time_ms": 0,
        "topics": [{"name": name, "partitions": parts} for name, parts in topics.items()],
    }


def _group_error(code: int) -> dict:
    return {"error_code": code, "throttle_time_ms": 0, "topics": []}
