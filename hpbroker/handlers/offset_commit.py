"""OffsetCommit (key 8), versions 2-7: committed offsets become __consumer_offsets records.

Group checks first (as Kafka: simple commits with generation -1 on an Empty or absent group,
else member and generation must match; REBALANCE_IN_PROGRESS while CompletingRebalance), then
per partition: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE. v2-4 retention_time_ms
becomes the offsets' expire timestamp (commit time + retention, at most Long.MAX_VALUE); -1
leaves offsets.retention.minutes in charge (coordinator/shard.py).

If ``__consumer_offsets`` cannot be written (a full disk), the offsets that would have been
stored answer NOT_COORDINATOR, as Kafka maps a storage error of an offset commit: the client finds
its coordinator again and retries; nothing changed in memory (the coordinator replays only what
it appended). A replicated __consumer_offsets partition answers once its ISR has the offsets (Kafka
appends them with acks=all): COORDINATOR_NOT_AVAILABLE after offsets.commit.timeout.ms,
NOT_COORDINATOR if the leadership moved meanwhile.
"""

import logging

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUP, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)

API_KEY = 8
MIN_VERSION, MAX_VERSION = 2, 7
ROUTE = Route(GROUP, group_field="group_id")


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    coordinator = ctx.broker.group_coordinator
    shard = coordinator.shard_for(request["group_id"])
    denied_topics = {
        t["name"] for t in request["topics"] if not ctx.authorize(Operation.READ, ResourceType.TOPIC, t["name"])
    }
    if not ctx.authorize(Operation.READ, ResourceType.GROUP, request["group_id"]):
        results = {
            (t["name"], p["partition_index"]): ErrorCode.GROUP_AUTHORIZATION_FAILED
            for t in request["topics"]
            for p in t["partitions"]
        }
    elif denied_topics:
        # Kafka answers the topics it may not read and commits the others
        allowed = dict(request)
        allowed["topics"] = [t for t in request["topics"] if t["name"] not in denied_topics]
        results = _commit(ctx, coordinator, shard, allowed)
        for t in request["topics"]:
            if t["name"] in denied_topics:
                for p in t["partitions"]:
                    results[(t["name"], p["partition_index"])] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
    else:
        results = _commit(ctx, coordinator, shard, request)
    replicated = coordinator.replication_of(shard) if shard is not None else None
    if replicated is not None:
        return _after_replication(replicated, request, results)
    return _response(request, results)


async def _after_replication(replicated, request, results):
    """Answer once the ISR has the offsets; a failure is Kafka's mapping of the append's error
    (GroupMetadataManager.storeOffsets)."""
    code = await replicated
    if code != ErrorCode.NONE:
        mapped = (
            ErrorCode.NOT_COORDINATOR
            if code == ErrorCode.NOT_LEADER_OR_FOLLOWER
            else ErrorCode.COORDINATOR_NOT_AVAILABLE
        )
        results = {k: mapped if c == ErrorCode.NONE else c for k, c in results.items()}
    return _response(request, results)


def _response(request, results):
    return {
        "throttle_time_ms": 0,
        "topics": [
            {
                "name": t["name"],
                "partitions": [
                    {"partition_index": p["partition_index"], "error_code": results[(t["name"], p["partition_index"])]}
                    for p in t["partitions"]
                ],
            }
            for t in request["topics"]
        ],
    }


def _commit(ctx, coordinator, shard, request):
    if shard is None:
        results = {
            (t["name"], p["partition_index"]): ErrorCode.NOT_COORDINATOR
            for t in request["topics"]
            for p in t["partitions"]
        }
    else:
        topics = ctx.broker.metadata.topics
        records, results = shard.commit_offsets(request, lambda t, p: _partition_exists(topics, t, p))
        try:
            coordinator.write(shard, records)
        except OSError as exc:
            warn_storage_failure(
                log,
                ("__consumer_offsets", shard.partition_index),
                "cannot store offsets of group %r: %s",
                request["group_id"],
                exc,
            )
            results = {k: ErrorCode.NOT_COORDINATOR if code == 0 else code for k, code in results.items()}
    return results


def _partition_exists(topics, topic: str, partition: int) -> bool:
    # the metadata, not this process's partitions: the coordinator may live in another
    # process than the partition's owner (multi-process mode)
    info = topics.get(topic)
    return info is not None and 0 <= partition < info.num_partitions
