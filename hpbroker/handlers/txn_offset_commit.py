"""TxnOffsetCommit (key 28), versions 0-3: offsets committed inside a transaction.

The group's coordinator appends them to its __consumer_offsets partition as a transactional
batch of the producer and holds them aside; they become the group's committed offsets when the
transaction's COMMIT marker reaches that partition, and are dropped at ABORT
(coordinator/coordinator.py ``write_txn``/``complete_txn``). v3 names the member and generation
(KIP-447), checked as OffsetCommit's; older versions commit for the group as a whole.

Authorization as Kafka's: WRITE on the TRANSACTIONAL_ID, READ on the GROUP, READ on each topic.
"""

import logging

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import GROUP, Route
from hpbroker.coordinator.coordinator import starts_coordinator
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)

API_KEY = 28
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(GROUP, group_field="group_id")


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


@starts_coordinator
def handle(ctx: RequestContext, request: dict):
    wanted = [(t["name"], p["partition_index"]) for t in request["topics"] for p in t["partitions"]]
    if not ctx.authorize(Operation.WRITE, ResourceType.TRANSACTIONAL_ID, request["transactional_id"]):
        return _response(request, dict.fromkeys(wanted, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED))
    if not ctx.authorize(Operation.READ, ResourceType.GROUP, request["group_id"]):
        return _response(request, dict.fromkeys(wanted, ErrorCode.GROUP_AUTHORIZATION_FAILED))
    denied = {t for t, _ in wanted if not ctx.authorize(Operation.READ, ResourceType.TOPIC, t)}
    if denied:
        return _response(
            request,
            {
                tp: ErrorCode.TOPIC_AUTHORIZATION_FAILED if tp[0] in denied else ErrorCode.OPERATION_NOT_ATTEMPTED
                for tp in wanted
            },
        )
    coordinator = ctx.broker.group_coordinator
    shard = coordinator.shard_for(request["group_id"])
    if shard is None:
        return _response(request, dict.fromkeys(wanted, ErrorCode.NOT_COORDINATOR))
    commit = dict(request)
    commit["generation_id_or_member_epoch"] = request.get("generation_id", -1)
    topics = ctx.broker.metadata.topics

    def exists(topic, partition):
        info = topics.get(topic)
        return info is not None and 0 <= partition < info.num_partitions

    records, results = shard.commit_offsets(commit, exists, txn=True)
    try:
        coordinator.write_txn(shard, records, request["producer_id"], request["producer_epoch"])
    except OSError as exc:
        warn_storage_failure(
            log, ("__consumer_offsets", shard.partition_index), "cannot store transaction offsets: %s", exc
        )
        results = {k: ErrorCode.NOT_COORDINATOR if code == 0 else code for k, code in results.items()}
    return _response(request, results)
