"""DeleteGroups (key 42), versions 0-1: delete Empty groups and their committed offsets.

A group with members -> NON_EMPTY_GROUP; unknown -> GROUP_ID_NOT_FOUND. Deletion writes
tombstones (null values) for every committed offset and for the group metadata.

If the tombstones cannot be written (a full disk), that group answers NOT_COORDINATOR (Kafka's
mapping of a storage error for group writes) and stays as it was: the coordinator replays only
what it appended.
"""

import logging

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUPS, GroupSplit, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)

API_KEY = 42
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(GROUPS, groups=GroupSplit("groups_names", "results"))


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    coordinator = ctx.broker.group_coordinator
    results = []
    for group_id in request["groups_names"]:
        if not ctx.authorize(Operation.DELETE, ResourceType.GROUP, group_id):
            results.append({"group_id": group_id, "error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED})
            continue
        shard = coordinator.shard_for(group_id)
        if shard is None:
            results.append({"group_id": group_id, "error_code": ErrorCode.NOT_COORDINATOR})
            continue
        records, error = shard.delete_group(group_id)
        try:
            coordinator.write(shard, records)
        except OSError as exc:
            warn_storage_failure(
                log, ("__consumer_offsets", shard.partition_index), "cannot delete group %r: %s", group_id, exc
            )
            error = ErrorCode.NOT_COORDINATOR
        results.append({"group_id": group_id, "error_code": error})
    return {"throttle_time_ms": 0, "results": results}
