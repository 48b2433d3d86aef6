"""Fetch (key 1), versions 4-11: records as file regions, sent with os.sendfile.

Rules (Kafka's ReplicaManager.fetchMessages / readFromLog, PROTOCOL.md section 5):
- Partitions are read in request order with a shrinking ``max_bytes`` budget; each partition is
  also capped by its ``partition_max_bytes``. The first batch of the first non-empty partition is
  returned whole even if it exceeds both limits (KIP-74), so a consumer can always progress.
- Only bytes below the high watermark (read_uncommitted) or last stable offset (read_committed;
  equal without open transactions) are visible. A read_committed answer names the aborted
  transactions overlapping the fetched range (producer id, first offset: the segments'
  .txnindex, storage/txn_index.py); the consumer drops their records up to the ABORT marker.
- Every requested partition appears in the answer (kafka-python drops a full fetch response
  whose partition set differs from its request), with empty records if there is nothing.
- Answer at once if max_wait_ms <= 0, if min_bytes are available or on any error; otherwise park
  the request in the fetch purgatory until an append to one of its partitions or max_wait_ms.
- Sessions (KIP-227): we always answer session_id 0 (sessionless), which every client accepts.
- A follower's Fetch (``replica_id`` >= 0, a broker of the cluster) is served by the partition's
  leader only, reads up to the log end offset instead of the HW, and its ``fetch_offset`` is that
  follower's log end offset: recorded before the read (``record_follower_fetch``, which may move
  the HW), so the answer carries the HW it allowed. Its bytes leave through the same sendfile
  path as a consumer's.

The records of each partition are an ``ExternalBytes`` holding file regions: the protocol encoder
writes their length, the connection sends them from the segment files with os.sendfile.
"""

from __future__ import annotations

import time

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import FETCH, Route, Split
from hpbroker.protocol import ExternalBytes
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType
from hpbroker.storage import OffsetOutOfRange

API_KEY = 1
MIN_VERSION, MAX_VERSION = 4, 11
# a follower's Fetch is cut by owning handler in the multi-process topology (routes.py)
ROUTE = Route(FETCH, Split("topics", "topic", "partitions", "partition", "responses", "topic", "partitions"))

READ_COMMITTED = 1


def file_records(regions, size) -> ExternalBytes:
    """Record bytes that stay in segment files: ``source`` is a list of storage FileRegion (fd,
    position, length) sent with os.sendfile; holding them keeps the segment files open."""
    return ExternalBytes(size, regions)


def _stored_as_zstd(broker, topic: str) -> bool:
    info = broker.metadata.topics.get(topic)
    return info is not None and broker.replica_manager.topic_config(info)["compression.type"] == "zstd"


def _partition_answer(index, code, partition=None):
    hw = partition.high_watermark if partition is not None else -1
    lso = partition.last_stable_offset if partition is not None else -1
    lso_start = partition.log_start_offset if partition is not None else -1
    return {
        "partition_index": index,
        "error_code": code,
        "high_watermark": hw,
        "last_stable_offset": lso,
        "log_start_offset": lso_start,
        "aborted_transactions": None,
        "preferred_read_replica": -1,
        "records": b"",
    }


def _read_all(ctx, request, plan, denied=frozenset(), first: bool = True):
    """One pass over the requested partitions. Returns (topics answer, bytes, had_error).
    ``denied``: topics the principal may not read (TOPIC_AUTHORIZATION_FAILED); ``first``: the
    first pass of this request (a follower's fetch offsets are recorded then)."""
    broker = ctx.broker
    rm = broker.replica_manager
    budget = request.get("max_bytes", 0x7FFFFFFF)
    read_committed = request.get("isolation_level", 0) == READ_COMMITTED
    replica_id = request.get("replica_id", -1)
    total = 0
    had_error = False
    out = []
    for topic, parts in plan:
        answers = []
        # Kafka: a topic stored as zstd (compression.type) is refused to Fetch before v10,
        # whose clients may not read zstd (KIP-110)
        zstd_refused = ctx.api_version < 10 and _stored_as_zstd(broker, topic)
        for fp in parts:
            index = fp["partition"]
            if topic in denied:
                answers.append(_partition_answer(index, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
                had_error = True
                continue
            partition = rm.readable(topic, index) if replica_id < 0 else rm.replica_partition(topic, index)
            if partition is None:
                answers.append(_partition_answer(index, rm.not_led_error(topic, index)))
                had_error = True
                continue
            epoch = fp.get("current_leader_epoch", -1)
            if epoch >= 0 and epoch != partition.leader_epoch:
                code = (
                    ErrorCode.UNKNOWN_LEADER_EPOCH if epoch > partition.leader_epoch else ErrorCode.FENCED_LEADER_EPOCH
                )
                answers.append(_partition_answer(index, code, partition))
                had_error = True
                continue
            if zstd_refused:
                answers.append(_partition_answer(index, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, partition))
                had_error = True
                continue
            if replica_id >= 0:
                if first:
                    rm.record_follower_fetch(partition, replica_id, fp["fetch_offset"], fp.get("log_start_offset", -1))
                upper_bound = partition.log_end_offset
            else:
                upper_bound = partition.high_watermark
            ans = _partition_answer(index, 0, partition)
            if read_committed and replica_id < 0:
                upper_bound = ans["last_stable_offset"]
            limit = min(fp["partition_max_bytes"], max(budget - total, 0))
            try:
                result = partition.log.read(
                    fp["fetch_offset"], limit, upper_bound=upper_bound, min_one_batch=(total == 0)
                )
            except OffsetOutOfRange:
                ans["error_code"] = ErrorCode.OFFSET_OUT_OF_RANGE
                answers.append(ans)
                had_error = True
                continue
            if result.size:
                ans["records"] = file_records(result.regions, result.size)
                total += result.size
                if read_committed and replica_id < 0:
                    ans["aborted_transactions"] = [
                        {"producer_id": t.producer_id, "first_offset": t.first_offset}
                        for t in partition.aborted_transactions(fp["fetch_offset"], upper_bound)
                    ]
            elif read_committed:
                ans["aborted_transactions"] = []
            answers.append(ans)
        out.append({"topic": topic, "partitions": answers})
    return out, total, had_error


async def _long_poll(ctx, request, plan, deadline, min_bytes, keys, woken):
    """Answer when ``woken`` (a purgatory watch) fires and min_bytes are there, or at the
    deadline. Every watch is registered before this coroutine yields to the loop, so an append
    between the read that found too little and the wait cannot go unnoticed."""
    purgatory = ctx.broker.replica_manager.fetch_purgatory
    while True:
        await woken  # a key: one of our partitions moved; None: the deadline passed
        topics, total, had_error = _read_all(ctx, request, plan, first=False)
        remaining = deadline - time.monotonic()
        if total >= min_bytes or had_error or remaining <= 0:
            return _response(ctx, topics)
        woken = purgatory.watch(keys, remaining)


def _response(ctx, topics):
    """The answer, counted per partition (BytesOut, TotalFetchRequests, FailedFetchRequests)."""
    fetched = ctx.broker.stats.fetched
    for t in topics:
        name = t["topic"]
        for p in t["partitions"]:
            records = p["records"]
            fetched(name, records.size if type(records) is ExternalBytes else 0, p["error_code"] != 0)
    return {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, "responses": topics}


def handle(ctx: RequestContext, request: dict):
    if request.get("session_epoch", -1) > 0:
        # we never grant sessions, so an incremental fetch names a session we do not have
        return {
            "throttle_time_ms": 0,
            "error_code": ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
            "session_id": 0,
            "responses": [],
        }
    plan = [(t["topic"], t["partitions"]) for t in request["topics"]]
    denied = frozenset()
    if ctx.broker.authorizer is not None:
        if request.get("replica_id", -1) >= 0:  # a follower: CLUSTER_ACTION, as Kafka
            if not ctx.authorize(Operation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME):
                denied = frozenset(topic for topic, _ in plan)
        else:
            denied = frozenset(
                topic for topic, _ in plan if not ctx.authorize(Operation.READ, ResourceType.TOPIC, topic)
            )
    topics, total, had_error = _read_all(ctx, request, plan, denied)
    min_bytes = min(request.get("min_bytes", 1), request.get("max_bytes", 0x7FFFFFFF))
    max_wait = request.get("max_wait_ms", 0)
    if max_wait <= 0 or total >= min_bytes or had_error or not plan:
        return _response(ctx, topics)
    # Watch now, not when the returned coroutine first runs: an append handled before that (in
    # this process, or seen in the partition table by a processor) must find the watcher.
    keys = [(topic, fp["partition"]) for topic, parts in plan for fp in parts]
    woken = ctx.broker.replica_manager.fetch_purgatory.watch(keys, max_wait / 1000.0)
    return _long_poll(ctx, request, plan, time.monotonic() + max_wait / 1000.0, min_bytes, keys, woken)
