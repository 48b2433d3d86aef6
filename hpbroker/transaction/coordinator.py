"""TransactionCoordinator: the transactional ids of the __transaction_state partitions this
process leads (Kafka's TransactionCoordinator + TransactionStateManager).

Theory of operation. A transactional id belongs to partition ``abs(hash(id)) %
transaction.state.log.num.partitions`` of __transaction_state (Kafka's hash, as groups), and its
coordinator is that partition's leader; the coordinator epoch, carried by every marker it has
written, is the partition's leader epoch. Each id's state (state.py) changes in one way:

    new = meta.moved_to(TARGET, ...)        # checked against the state table
    await self._write(p, new)               # one record appended, replicated to the ISR
    self.ids[p][id] = new                   # only then in memory

While a write is in flight the id has ``pending`` set and every other request for it is
answered CONCURRENT_TRANSACTIONS, which clients retry. EndTxn writes PrepareCommit or
PrepareAbort, answers the producer, then has the markers written to every partition of the
transaction (markers.py: here, or WriteTxnMarkers to the leader on another broker or process)
and writes CompleteCommit or CompleteAbort once all are in; a partition whose leader cannot be
reached is retried until it can, or until this broker no longer coordinates the id.

InitProducerId on an id in Ongoing fences the old producer: the epoch is bumped, the
transaction aborted with the new epoch (the markers fence the old epoch on each partition),
and the producer is answered CONCURRENT_TRANSACTIONS; its retry finds CompleteAbort and gets the
epoch bumped once more. A transaction open longer than its timeout is aborted the same way by
the maintenance tick (every transaction.abort.timed.out.transaction.cleanup.interval.ms), and
an id idle in Empty or Complete* for transactional.id.expiration.ms is deleted (a tombstone).

Loading: when this process starts to lead a partition (start, or ``elected`` in a cluster) the
records of its log are replayed, last one per id wins; ids found in PrepareCommit or
PrepareAbort have their markers written again (the previous coordinator may have died between
the Prepare record and the markers) and are completed.

Who may touch: the event loop of the process that leads these partitions.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hpbroker.broker.interface import ControllerError
from hpbroker.coordinator.coordinator import _await_high_watermark, iter_log_records
from hpbroker.coordinator.records import partition_for
from hpbroker.protocol.errors import ErrorCode
from hpbroker.records.builder import build_batch
from hpbroker.storage.write_failures import warn_storage_failure
from hpbroker.transaction.records import RecordFormatError, decode_key, decode_value, encode_key, encode_value
from hpbroker.transaction.state import COMPLETED, PREPARING, TransactionMetadata, TransactionState

log = logging.getLogger(__name__)

TRANSACTION_STATE_TOPIC = "__transaction_state"
E, ON, PC, PA, CC, CA, D = (
    TransactionState.EMPTY,
    TransactionState.ONGOING,
    TransactionState.PREPARE_COMMIT,
    TransactionState.PREPARE_ABORT,
    TransactionState.COMPLETE_COMMIT,
    TransactionState.COMPLETE_ABORT,
    TransactionState.DEAD,
)
MAX_EPOCH = 32766  # Kafka's Short.MaxValue - 1: past it the producer gets a new id
MARKER_RETRY_S = 0.1
WRITE_TIMEOUT_S = 30.0  # a __transaction_state write waits this long for its ISR (Kafka: request.timeout.ms)


def now_ms() -> int:
    return int(time.time() * 1000)


def _every_partition(topic: str, partition: int) -> bool:
    return True


class TransactionCoordinator:
    def __init__(self, broker_config, metadata, replica_manager, controller, markers, owns=None):
        self.broker_config = broker_config
        self.metadata = metadata
        self.replica_manager = replica_manager
        self.controller = controller
        #: markers.MarkerChannel: has the leaders of a transaction's partitions write its markers
        self.markers = markers
        self.owns = owns or _every_partition
        self.num_partitions: int | None = None
        #: partition -> transactional id -> metadata, for the partitions loaded here
        self.ids: dict[int, dict[str, TransactionMetadata]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._next_abort_check = 0.0
        self._next_expiry_check = 0.0

    def _cfg(self, name: str) -> int:
        return int(self.broker_config.get(name))

    @property
    def started(self) -> bool:
        return self.num_partitions is not None

    async def start(self) -> bool:
        """Load the led partitions of __transaction_state, created first (by the controller) if
        it does not exist. False if it cannot be created now: asked again at the next request."""
        if self.started:
            return True
        info = self.metadata.topics.get(TRANSACTION_STATE_TOPIC)
        if info is None:
            n = self._cfg("transaction.state.log.num.partitions")
            configs = {
                "cleanup.policy": "compact",
                "min.insync.replicas": str(self._cfg("transaction.state.log.min.isr")),
                "segment.bytes": str(self._cfg("transaction.state.log.segment.bytes")),
            }
            try:
                await self.controller.create_topic(TRANSACTION_STATE_TOPIC, n, configs)
                log.info("created %s with %d partitions", TRANSACTION_STATE_TOPIC, n)
            except ControllerError as exc:
                if exc.code == ErrorCode.NOT_CONTROLLER:
                    return False
                if exc.code != ErrorCode.TOPIC_ALREADY_EXISTS:
                    warn_storage_failure(
                        log, (TRANSACTION_STATE_TOPIC, "create"), "cannot create %s: %s", TRANSACTION_STATE_TOPIC, exc
                    )
                    return False
            if self.started:
                return True
            info = self.metadata.topics.get(TRANSACTION_STATE_TOPIC)
            if info is None:
                return False
        if not info.num_partitions:  # a cluster's metadata names it before its partitions
            return False
        self.num_partitions = info.num_partitions
        self.elected(p for p in range(info.num_partitions) if self.owns(TRANSACTION_STATE_TOPIC, p))
        return True

    # -- leadership ---------------------------------------------------------------------------
    def elected(self, indexes) -> None:
        """This process now leads these partitions: load their ids, finish their Prepare states.
        Before the coordinator started there is nothing to do: the maintenance tick starts it
        once __transaction_state exists (``run_maintenance``), loading what it leads then."""
        if not self.started:
            return
        for p in indexes:
            if p not in self.ids:
                self._load(p)

    def resigned(self, indexes) -> None:
        for p in indexes:
            self.ids.pop(p, None)

    def _partition(self, p: int):
        partition = self.replica_manager.partition(TRANSACTION_STATE_TOPIC, p)
        if partition is None or not partition.is_leader:
            return None
        return partition

    def _load(self, p: int) -> None:
        partition = self._partition(p)
        if partition is None:
            return
        ids: dict[str, TransactionMetadata] = {}
        for key, value in iter_log_records(partition.log):
            try:
                txn_id = decode_key(key)
                if value is None:
                    ids.pop(txn_id, None)
                else:
                    ids[txn_id] = decode_value(txn_id, value)
            except RecordFormatError as exc:
                log.warning("%s-%d: skipping a record: %s", TRANSACTION_STATE_TOPIC, p, exc)
        self.ids[p] = ids
        if ids:
            log.info("%s-%d: loaded %d transactional ids", TRANSACTION_STATE_TOPIC, p, len(ids))
        for meta in ids.values():
            if meta.state in PREPARING:
                self._spawn(self._complete(p, meta))

    # -- placement ------------------------------------------------------------------------------
    def partition_for(self, transactional_id: str) -> int:
        assert self.num_partitions is not None
        return partition_for(transactional_id, self.num_partitions)

    def _lookup(self, transactional_id: str) -> tuple[int, int, dict | None]:
        """(error, partition, ids of the partition): NOT_COORDINATOR when it is not led here."""
        if not self.started:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE, -1, None
        p = self.partition_for(transactional_id)
        ids = self.ids.get(p)
        if ids is None and self._partition(p) is not None:
            self._load(p)  # its log opened since (a handler that applied the topic late)
            ids = self.ids.get(p)
        if ids is None or self._partition(p) is None:
            return ErrorCode.NOT_COORDINATOR, p, None
        return ErrorCode.NONE, p, ids

    def coordinator_epoch(self, p: int) -> int:
        partition = self._partition(p)
        return partition.leader_epoch if partition is not None else -1

    # -- the write path ---------------------------------------------------------------------------
    async def _write(self, p: int, meta: TransactionMetadata, tombstone: bool = False) -> int:
        """Append ``meta`` (or its tombstone) to partition ``p`` and wait for its ISR; the error."""
        partition = self._partition(p)
        if partition is None:
            return ErrorCode.NOT_COORDINATOR
        epoch = partition.leader_epoch
        batch = build_batch([(encode_key(meta.transactional_id), None if tombstone else encode_value(meta))])
        try:
            partition.append_records_as_leader(batch)
        except OSError as exc:
            warn_storage_failure(log, (TRANSACTION_STATE_TOPIC, "write"), "cannot write %s: %s", meta, exc)
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        self.replica_manager.notify_append(TRANSACTION_STATE_TOPIC, p)
        if partition.replicated and partition.high_watermark < partition.log_end_offset:
            code = await _await_high_watermark(
                self.replica_manager,
                partition,
                epoch,
                partition.log_end_offset,
                WRITE_TIMEOUT_S,
            )
            if code != ErrorCode.NONE:
                return ErrorCode.NOT_COORDINATOR if code == ErrorCode.NOT_LEADER_OR_FOLLOWER else code
        if self.ids.get(p) is None or self.coordinator_epoch(p) != epoch:
            return ErrorCode.NOT_COORDINATOR  # lost the partition while waiting
        return ErrorCode.NONE

    async def _transit(self, p: int, ids: dict, new: TransactionMetadata) -> int:
        old = ids.get(new.transactional_id)
        if old is not None:
            old.pending = new.state
        new.last_update_ms = now_ms()
        try:
            code = await self._write(p, new)
        finally:
            if old is not None:
                old.pending = None
        if code == ErrorCode.NONE:
            ids[new.transactional_id] = new
        return code

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- InitProducerId ---------------------------------------------------------------------------
    async def init_producer_id(
        self, transactional_id: str, timeout_ms: int, producer_id: int = -1, producer_epoch: int = -1
    ) -> tuple[int, int, int]:
        """(error, producer id, epoch)."""
        if not transactional_id:
            return ErrorCode.INVALID_REQUEST, -1, -1
        if not 0 < timeout_ms <= self._cfg("transaction.max.timeout.ms"):
            return ErrorCode.INVALID_TRANSACTION_TIMEOUT, -1, -1
        code, p, ids = self._lookup(transactional_id)
        if ids is None:
            return code, -1, -1
        meta = ids.get(transactional_id)
        if meta is None:
            try:
                pid = await self.controller.next_producer_id()
            except ControllerError as exc:
                return exc.code, -1, -1
            meta = ids.get(transactional_id)  # another request may have made it meanwhile
            if meta is None:
                new = TransactionMetadata(transactional_id, pid, 0, timeout_ms, E, last_producer_epoch=-1)
                code = await self._transit(p, ids, new)
                return (code, pid, 0) if code == ErrorCode.NONE else (code, -1, -1)
        if meta.pending is not None:
            return ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1
        if producer_id >= 0 and (producer_id, producer_epoch) != (meta.producer_id, meta.producer_epoch):
            # KIP-360: a producer recovering its epoch names the one it had; another is fenced
            if not (producer_id == meta.producer_id and producer_epoch == meta.last_producer_epoch):
                return ErrorCode.PRODUCER_FENCED, -1, -1
            return ErrorCode.NONE, meta.producer_id, meta.producer_epoch
        if meta.state in PREPARING:
            return ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1
        if meta.state == ON:
            await self._abort(p, ids, meta, fence=True)
            return ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1
        pid, epoch = meta.producer_id, meta.producer_epoch + 1
        if epoch > MAX_EPOCH:
            try:
                pid = await self.controller.next_producer_id()
            except ControllerError as exc:
                return exc.code, -1, -1
            epoch = 0
        new = meta.moved_to(
            E,
            producer_id=pid,
            producer_epoch=epoch,
            last_producer_epoch=meta.producer_epoch if pid == meta.producer_id else -1,
            timeout_ms=timeout_ms,
            partitions=set(),
            start_ms=-1,
        )
        code = await self._transit(p, ids, new)
        return (code, pid, epoch) if code == ErrorCode.NONE else (code, -1, -1)

    # -- the producer's calls ------------------------------------------------------------------------
    def _check_producer(self, ids: dict, transactional_id: str, producer_id: int, producer_epoch: int):
        """(error, metadata) for a request naming the producer's id and epoch."""
        meta = ids.get(transactional_id)
        if meta is None or meta.producer_id != producer_id:
            return ErrorCode.INVALID_PRODUCER_ID_MAPPING, None
        if producer_epoch != meta.producer_epoch:
            return ErrorCode.PRODUCER_FENCED, None
        if meta.pending is not None:
            return ErrorCode.CONCURRENT_TRANSACTIONS, None
        return ErrorCode.NONE, meta

    async def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int, partitions) -> int:
        """AddPartitionsToTxn / AddOffsetsToTxn: the partitions join the open transaction."""
        code, p, ids = self._lookup(transactional_id)
        if ids is None:
            return code
        code, meta = self._check_producer(ids, transactional_id, producer_id, producer_epoch)
        if meta is None:
            return code
        if meta.state in PREPARING:
            return ErrorCode.CONCURRENT_TRANSACTIONS
        partitions = set(partitions)
        if meta.state == ON and partitions <= meta.partitions:
            return ErrorCode.NONE
        start = meta.start_ms if meta.state == ON else now_ms()
        new = meta.moved_to(
            ON, partitions=(meta.partitions if meta.state == ON else set()) | partitions, start_ms=start
        )
        return await self._transit(p, ids, new)

    async def end_txn(self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool) -> int:
        code, p, ids = self._lookup(transactional_id)
        if ids is None:
            return code
        code, meta = self._check_producer(ids, transactional_id, producer_id, producer_epoch)
        if meta is None:
            return code
        state = meta.state
        if state == ON:
            target = PC if commit else PA
            new = meta.moved_to(target)
            code = await self._transit(p, ids, new)
            if code == ErrorCode.NONE:
                self._spawn(self._complete(p, new))
            return code
        if state == CC:
            return ErrorCode.NONE if commit else ErrorCode.INVALID_TXN_STATE
        if state == CA:
            return ErrorCode.NONE if not commit else ErrorCode.INVALID_TXN_STATE
        if state == PC:
            return ErrorCode.CONCURRENT_TRANSACTIONS if commit else ErrorCode.INVALID_TXN_STATE
        if state == PA:
            return ErrorCode.CONCURRENT_TRANSACTIONS if not commit else ErrorCode.INVALID_TXN_STATE
        return ErrorCode.INVALID_TXN_STATE

    async def _abort(self, p: int, ids: dict, meta: TransactionMetadata, fence: bool) -> int:
        """Abort an Ongoing transaction without its producer (fencing, timeout): with ``fence``
        the epoch is bumped first, so the markers fence the old one on every partition."""
        epoch = meta.producer_epoch + 1 if fence and meta.producer_epoch < MAX_EPOCH else meta.producer_epoch
        new = meta.moved_to(PA, producer_epoch=epoch, last_producer_epoch=meta.producer_epoch)
        code = await self._transit(p, ids, new)
        if code == ErrorCode.NONE:
            self._spawn(self._complete(p, new))
        return code

    async def _complete(self, p: int, meta: TransactionMetadata) -> None:
        """Write the markers of a Prepare state, then its Complete state."""
        commit = meta.state == PC
        pending = set(meta.partitions)
        coordinator_epoch = self.coordinator_epoch(p)
        while pending:
            ids = self.ids.get(p)
            if (
                ids is None
                or ids.get(meta.transactional_id) is not meta
                or self.coordinator_epoch(p) != coordinator_epoch
            ):
                return  # no longer ours: the new coordinator finishes it
            try:
                errors = await self.markers.write(
                    meta.producer_id, meta.producer_epoch, commit, coordinator_epoch, sorted(pending)
                )
            except Exception:  # a bug must not leave the transaction hanging silently
                log.exception("writing the markers of %s failed", meta.transactional_id)
                errors = {tp: ErrorCode.UNKNOWN_SERVER_ERROR for tp in pending}
            for tp, code in errors.items():
                if code in (ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION):
                    pending.discard(tp)  # done, or the topic is gone (Kafka drops it too)
                elif code in (ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.TRANSACTION_COORDINATOR_FENCED):
                    log.warning("%s: marker on %s-%d refused (%d)", meta.transactional_id, tp[0], tp[1], code)
                    pending.discard(tp)
            if pending:
                await asyncio.sleep(MARKER_RETRY_S)
        ids = self.ids.get(p)
        if ids is None or ids.get(meta.transactional_id) is not meta:
            return
        done = meta.moved_to(CC if commit else CA, partitions=set())
        while True:
            code = await self._transit(p, ids, done)
            if code in (ErrorCode.NONE, ErrorCode.NOT_COORDINATOR):
                return
            await asyncio.sleep(MARKER_RETRY_S)
            if self.ids.get(p) is not ids or ids.get(meta.transactional_id) is not meta:
                return

    # -- maintenance --------------------------------------------------------------------------------
    def run_maintenance(self) -> None:
        """Abort timed-out transactions and expire idle ids, each at its own interval."""
        if not self.started:
            # after a restart: load the partitions of an existing __transaction_state at once,
            # so transactions left in a Prepare state or timing out are finished without waiting
            # for a transactional producer to ask
            if self.metadata.topics.get(TRANSACTION_STATE_TOPIC) is not None:
                self._spawn(self.start())
            return
        if not self.ids:
            return
        now = time.monotonic()
        if now >= self._next_abort_check:
            self._next_abort_check = (
                now + self._cfg("transaction.abort.timed.out.transaction.cleanup.interval.ms") / 1000
            )
            self._spawn(self.abort_timed_out())
        if now >= self._next_expiry_check:
            self._next_expiry_check = (
                now + self._cfg("transaction.remove.expired.transaction.cleanup.interval.ms") / 1000
            )
            self._spawn(self.expire_ids())

    async def abort_timed_out(self) -> int:
        wall = now_ms()
        n = 0
        for p, ids in list(self.ids.items()):
            for meta in list(ids.values()):
                if meta.state == ON and meta.pending is None and wall > meta.start_ms + meta.timeout_ms:
                    log.info(
                        "aborting the transaction of %s (producer %d epoch %d): open longer than %d ms",
                        meta.transactional_id,
                        meta.producer_id,
                        meta.producer_epoch,
                        meta.timeout_ms,
                    )
                    await self._abort(p, ids, meta, fence=True)
                    n += 1
        return n

    async def expire_ids(self) -> int:
        wall = now_ms()
        horizon = self._cfg("transactional.id.expiration.ms")
        n = 0
        for p, ids in list(self.ids.items()):
            for txn_id, meta in list(ids.items()):
                if meta.state in COMPLETED and meta.pending is None and wall - meta.last_update_ms > horizon:
                    meta.pending = D
                    try:
                        code = await self._write(p, meta.moved_to(D), tombstone=True)
                    finally:
                        meta.pending = None
                    if code == ErrorCode.NONE and ids.get(txn_id) is meta:
                        del ids[txn_id]
                        n += 1
        if n:
            log.info("expired %d transactional ids (transactional.id.expiration.ms)", n)
        return n

    # -- DescribeTransactions / ListTransactions ------------------------------------------------------
    def describe(self, transactional_id: str) -> tuple[int, TransactionMetadata | None]:
        code, _, ids = self._lookup(transactional_id)
        if ids is None:
            return code, None
        meta = ids.get(transactional_id)
        return (ErrorCode.NONE, meta) if meta is not None else (ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, None)

    def list(self) -> list[TransactionMetadata]:
        return [m for ids in self.ids.values() for m in ids.values()]

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
