"""Produce (key 0), versions 3-8: one RecordBatch v2 per partition.

Per partition: unknown topic/partition -> UNKNOWN_TOPIC_OR_PARTITION; the batch is checked and
appended by ``Partition.append_from_client`` (size, CRC, format, the per-record rules -- keys on a
compacted topic, timestamp bounds: a refused batch names every invalid record in record_errors,
records/record_checks.py --, idempotence), which answers a duplicate of one of the producer's last
five batches with its original offsets. The record errors of one response share
RECORD_ERRORS_BYTES; past that they are cut down (``record_checks.fit``). A transactional
producer's request (``transactional_id`` set) needs WRITE on that TRANSACTIONAL_ID, else every
partition is answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED; its transactional batches open its
transaction on each partition (replication/partition.py), a plain batch of a producer inside a
transaction is INVALID_TXN_STATE.
acks must be 0, 1 or -1 (INVALID_REQUIRED_ACKS). acks=-1 (Kafka's Partition.appendRecordsToLeader
and DelayedProduce) needs min.insync.replicas <= the leader's ISR before the append, else
NOT_ENOUGH_REPLICAS and nothing is written; after the append a replicated partition's answer
waits in the produce purgatory until the high watermark passes the batch, then is NONE, or
NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below min.insync.replicas meanwhile (the
records are in the log), REQUEST_TIMED_OUT at ``timeout_ms``, NOT_LEADER_OR_FOLLOWER if the
leadership moved. acks=1 answers after the leader's append. Internal topics (``__consumer_offsets``) are
written by their coordinators only: a client's batch gets INVALID_TOPIC_EXCEPTION (Kafka's "Cannot
append to internal topic"), since a forged record there would become a group's state on the next
load. acks=0 gets no response at all; if any
partition failed, the connection is closed instead, which is how Kafka tells such a producer.

A write the file system refuses (ENOSPC, EIO, ...) answers that partition KAFKA_STORAGE_ERROR, a
retriable error for clients, and leaves nothing behind: the segment drops the partial batch and
the producer's sequence state moves only after a whole append, so a retry once space is back is
appended (or, if it was written, answered as a duplicate) exactly once. The broker keeps serving
its other partitions and reads; Kafka would take the log dir offline, which on a single node
would stop the broker.
"""

import logging
import time

from hpbroker.broker.request import CloseConnection, RequestContext
from hpbroker.broker.routes import PARTITIONED, Route, Split
from hpbroker.metadata.topics import INTERNAL_TOPICS
from hpbroker.protocol.errors import ErrorCode
from hpbroker.records.record_checks import encoded_size, fit
from hpbroker.replication.partition import AppendError
from hpbroker.security.acl import Operation, ResourceType
from hpbroker.storage.write_failures import warn_storage_failure

API_KEY = 0
MIN_VERSION, MAX_VERSION = 3, 8
ROUTE = Route(
    PARTITIONED, Split("topic_data", "name", "partition_data", "index", "responses", "name", "partition_responses")
)

# A Produce response must fit one record of a response ring in the multi-process topology
# (server/multiproc/topology.py: rings of 1 MiB take records up to 512 KiB), whatever the
# batches held
RECORD_ERRORS_BYTES = 256 << 10

log = logging.getLogger(__name__)


def _storage_failed(name: str, index: int, exc: OSError, directory: str) -> dict:
    warn_storage_failure(log, (name, index), "cannot append to %s-%d in %s: %s", name, index, directory, exc)
    return _failed(
        index,
        ErrorCode.KAFKA_STORAGE_ERROR,
        f"Error while appending records to {name}-{index} in dir {directory}: {exc.strerror or exc}",
    )


def _failed(index, code, message=None, record_errors=(), log_start_offset=-1):
    return {
        "index": index,
        "error_code": code,
        "base_offset": -1,
        "log_append_time_ms": -1,
        "log_start_offset": log_start_offset,
        "error_message": message,
        "record_errors": [{"batch_index": i, "batch_index_error_message": m} for i, m in record_errors],
    }


def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    topics = broker.metadata.topics
    rm = broker.replica_manager
    acks = request["acks"]
    responses = []
    any_error = False
    allow_zstd = ctx.api_version >= 7
    budget = RECORD_ERRORS_BYTES
    waiting: list[_Waiting] = []
    stats = broker.stats
    # a transactional producer's Produce needs WRITE on its transactional id too (Kafka's)
    txn_id = request.get("transactional_id")
    txn_denied = txn_id is not None and not ctx.authorize(Operation.WRITE, ResourceType.TRANSACTIONAL_ID, txn_id)
    for topic_data in request["topic_data"]:
        name = topic_data["name"]
        info = topics.get(name)
        parts = []
        if info is not None:
            settings = rm.produce_settings(info)  # cached per topic, not rebuilt per request
            min_isr = settings.min_insync_replicas
        denied = not ctx.authorize(Operation.WRITE, ResourceType.TOPIC, name)
        for pd in topic_data["partition_data"]:
            if txn_denied:
                parts.append(_failed(pd["index"], ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED))
                any_error = True
                continue
            index = pd["index"]
            if acks not in (0, 1, -1):
                parts.append(_failed(index, ErrorCode.INVALID_REQUIRED_ACKS))
                any_error = True
                continue
            if denied:
                parts.append(_failed(index, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
                any_error = True
                continue
            partition = rm.partition(name, index) if info is not None else None
            if partition is None:
                parts.append(
                    _failed(
                        index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION if info is None else rm.not_led_error(name, index)
                    )
                )
                any_error = True
                continue
            if name in INTERNAL_TOPICS:
                parts.append(
                    _failed(index, ErrorCode.INVALID_TOPIC_EXCEPTION, f"Cannot append to internal topic {name}")
                )
                any_error = True
                continue
            if acks == -1 and min_isr > 1 and min_isr > (isr := len(partition.isr) or 1):
                parts.append(
                    _failed(
                        index, ErrorCode.NOT_ENOUGH_REPLICAS, f"ISR size {isr} is below min.insync.replicas {min_isr}"
                    )
                )
                any_error = True
                continue
            try:
                r = partition.append_from_client(
                    pd["records"],
                    max_message_bytes=settings.max_message_bytes,
                    log_append_time=settings.log_append_time,
                    allow_zstd=allow_zstd,
                    timestamp_before_ms=settings.timestamp_before_ms,
                    timestamp_after_ms=settings.timestamp_after_ms,
                    keys_required=settings.keys_required,
                    target_codec=settings.target_codec,
                    target_level=settings.target_level,
                )
            except AppendError as exc:
                listed = fit(exc.record_errors, budget)
                budget -= encoded_size(listed)
                # a batch refused for its records carries the log start offset, as in Kafka
                parts.append(
                    _failed(
                        index, exc.error_code, str(exc), listed, partition.log_start_offset if exc.record_errors else -1
                    )
                )
                any_error = True
                continue
            except OSError as exc:
                parts.append(_storage_failed(name, index, exc, partition.log.directory))
                any_error = True
                continue
            if not r.duplicate:
                rm.notify_append(name, index)
                stats.produced(name, len(pd["records"]), r.last_offset - r.base_offset + 1)
            answer = {
                "index": index,
                "error_code": 0,
                "base_offset": r.base_offset,
                "log_append_time_ms": r.log_append_time,
                "log_start_offset": r.log_start_offset,
                "record_errors": [],
                "error_message": None,
            }
            parts.append(answer)
            if acks == -1 and partition.replicated:
                waiting.append(_Waiting(partition, partition.leader_epoch, r.last_offset + 1, min_isr, answer))
        for pd, part in zip(topic_data["partition_data"], parts):
            if part["error_code"]:
                records = pd["records"]
                stats.produce_failed(name, len(records) if records is not None else 0)
        responses.append({"name": name, "partition_responses": parts})
    if acks == 0:
        if any_error:
            raise CloseConnection("acks=0 produce failed")
        return None
    response = {"responses": responses, "throttle_time_ms": 0}
    waiting = [w for w in waiting if not w.settled(rm)]
    if not waiting:
        return response
    # watch before returning: a follower's fetch handled before the task first runs must find it
    timeout_s = max(request["timeout_ms"], 0) / 1000.0
    keys = [(w.partition.topic, w.partition.index) for w in waiting]
    woken = rm.produce_purgatory.watch(keys, timeout_s)
    return _await_replication(rm, response, waiting, woken, time.monotonic() + timeout_s)


class _Waiting:
    """One partition's answer of an acks=all Produce, waiting for the HW to pass its batch."""

    __slots__ = ("partition", "leader_epoch", "required_offset", "min_isr", "answer")

    def __init__(self, partition, leader_epoch, required_offset, min_isr, answer):
        self.partition = partition
        self.leader_epoch = leader_epoch
        self.required_offset = required_offset
        self.min_isr = min_isr
        self.answer = answer

    def settled(self, rm) -> bool:
        """True once the answer is final (set here); False while it still waits."""
        p = self.partition
        if not p.is_leader or p.leader_epoch != self.leader_epoch or rm.partition(p.topic, p.index) is not p:
            self._fail(ErrorCode.NOT_LEADER_OR_FOLLOWER)
            return True
        if p.high_watermark < self.required_offset:
            return False
        if len(p.isr) < self.min_isr:
            self._fail(
                ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                f"ISR size {len(p.isr)} fell below min.insync.replicas {self.min_isr} after the append",
            )
        return True

    def _fail(self, code: int, message: str | None = None) -> None:
        self.answer["error_code"] = code
        self.answer["error_message"] = message
        self.answer["base_offset"] = -1
        self.answer["log_append_time_ms"] = -1


async def _await_replication(rm, response, waiting, woken, deadline):
    while True:
        await woken  # a key: a partition's HW or leadership moved; None: the timeout passed
        waiting = [w for w in waiting if not w.settled(rm)]
        remaining = deadline - time.monotonic()
        if not waiting:
            return response
        if remaining <= 0:
            for w in waiting:
                w._fail(ErrorCode.REQUEST_TIMED_OUT)
            return response
        woken = rm.produce_purgatory.watch([(w.partition.topic, w.partition.index) for w in waiting], remaining)
