"""ClusterReplicaManager: the partitions the controller made this broker a replica of.

A ``LocalReplicaManager`` whose partitions come and go with the controller's requests (Kafka's
ReplicaManager.becomeLeaderOrFollower and stopReplicas) instead of with the topic registry:

- LeaderAndIsr (``become_leader_or_follower``): a request from an older controller epoch is
  refused whole (STALE_CONTROLLER_EPOCH). Each partition is opened if it is not held yet (its
  log recovered from disk or created) and takes the request's state only if its leader epoch is
  newer than the one held (else STALE_CONTROLLER_EPOCH for that partition, as Kafka answers);
  a partition whose replicas do not name this broker is UNKNOWN_TOPIC_OR_PARTITION, one whose
  log cannot be opened KAFKA_STORAGE_ERROR. The state is kept on the Partition as delivered
  (leader, leader epoch, ISR, replicas, partition epoch = the state znode's zkVersion, the
  deciding controller's epoch): the leader appends in that leader epoch; a follower takes no
  client writes (``partition`` is None for it, and requests on it are answered
  NOT_LEADER_OR_FOLLOWER). Parked Fetches of partitions that changed are woken.
- StopReplica (``stop_replicas``): with delete, the partition is dropped and its log deleted
  (also when it was never opened: a topic deleted while this broker was down); without, it
  stays held. A leader epoch older than the one held is FENCED_LEADER_EPOCH; -2 (the topic is
  being deleted) and -1 (no epoch) always apply.

Nothing is opened at start-up: the controller's first LeaderAndIsr names every replica this
broker holds, and only those are opened (logs of other topics stay on disk untouched).

Replication (Kafka's ReplicaManager and Partition, CLUSTER.md sections 3 and 5): a partition made
follower is handed to the replica fetchers (fetcher.py), in the truncating state, at every new
leader epoch; one made leader leaves them and wakes its parked Produces (which then answer
NOT_LEADER_OR_FOLLOWER if it became follower). As leader, each follower's Fetch moves its LEO
(``record_follower_fetch``), which may move the HW and wake the purgatories, and may let the
follower rejoin the ISR; ``maybe_shrink_isr`` (every maintenance tick) drops the followers that
lagged more than ``replica.lag.time.max.ms``. An ISR change is written to ZooKeeper first, as a
conditional write on the state znode's version (``isr_writer``); only once it succeeded does the
partition take the new ISR (a leader cut off from ZooKeeper never acknowledges on an ISR the
controller does not know), and the change is announced to the controller
(``isr_notifier``, /isr_change_notification), which sends UpdateMetadata.

Who may touch: the event loop of the process that owns these partitions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from hpbroker.broker.control_requests import LeaderAndIsrState, StopReplicaState
from hpbroker.metrics.layout import Counter
from hpbroker.protocol.errors import ErrorCode
from hpbroker.replication.fetcher import ReplicaFetcherManager
from hpbroker.replication.partition import Partition, now_ms
from hpbroker.replication.replica_manager import LocalReplicaManager

log = logging.getLogger(__name__)

#: StopReplica's leader epoch of a topic being deleted, and of a request without one
EPOCH_DURING_DELETE, NO_EPOCH = -2, -1
#: ISR changes within this time go to the controller in one notification
ISR_NOTIFY_DELAY_S = 0.2


class ClusterReplicaManager(LocalReplicaManager):
    def __init__(self, config, log_dirs, metadata, owns=None, *, broker_id: int, on_leadership=None, stats=None):
        self.broker_id = broker_id
        #: ProcessStats: ISR shrinks and expands of the partitions this process leads
        self.stats = stats
        #: the newest controller epoch seen in a controller request (Kafka's ReplicaManager.controllerEpoch)
        self.controller_epoch = 0
        #: (partitions that became leader, partitions that became follower), after each LeaderAndIsr
        self.on_leadership: Callable[[list[Partition], list[Partition]], None] | None = on_leadership
        #: writes a partition's new ISR to ZooKeeper, conditional on its partition epoch; the new
        #: partition epoch, or None if the write lost (None: this process changes no ISR)
        self.isr_writer: Callable[[Partition, tuple[int, ...]], Awaitable[int | None]] | None = None
        #: tells the controller which partitions' ISR changed
        self.isr_notifier: Callable[[list[tuple[str, int]]], Awaitable[None]] | None = None
        self._isr_changed: set[tuple[str, int]] = set()
        self._isr_notify_task: asyncio.Task | None = None
        self._isr_tasks: set[asyncio.Task] = set()
        #: False once the broker is shutting down: no partition is fetched any more
        self.following = True
        super().__init__(config, log_dirs, metadata, owns)
        self.fetchers = ReplicaFetcherManager(
            config,
            broker_id,
            metadata,
            before_truncate=lambda p, offset: self.before_truncate(p.topic, p.index),
            after_follower_change=lambda p: self.after_follower_change(p.topic, p.index),
        )

    def open_registered(self, metadata) -> None:
        """Nothing at start-up: LeaderAndIsr names the partitions to open."""

    # what handlers ask ----------------------------------------------------------------------
    def partition(self, topic: str, index: int) -> Partition | None:
        p = self.partitions.get((topic, index))
        return p if p is not None and p.is_leader else None

    def readable(self, topic: str, index: int) -> Partition | None:
        p = self.partitions.get((topic, index))
        return p if p is not None and p.is_leader else None

    def not_led_error(self, topic: str, index: int) -> int:
        if (topic, index) in self.partitions or self.metadata.partition_state(topic, index) is not None:
            return ErrorCode.NOT_LEADER_OR_FOLLOWER
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION

    # the controller's requests ----------------------------------------------------------------
    def accept_controller_epoch(self, controller_epoch: int) -> bool:
        """False for a request of an older controller than the newest seen; else remember it."""
        if controller_epoch < self.controller_epoch:
            return False
        self.controller_epoch = controller_epoch
        return True

    def become_leader_or_follower(
        self,
        controller_id: int,
        controller_epoch: int,
        states: Iterable[LeaderAndIsrState],
        topic_ids: dict[str, bytes],
    ) -> tuple[int, dict[tuple[str, int], int]]:
        """Apply a LeaderAndIsr request: (request error, per-partition errors). The topics of
        ``states`` must be in the metadata's registry (their configs open the logs)."""
        states = list(states)
        if not self.accept_controller_epoch(controller_epoch):
            log.warning(
                "ignoring LeaderAndIsr from controller %d: its epoch %d is older than %d",
                controller_id,
                controller_epoch,
                self.controller_epoch,
            )
            return ErrorCode.STALE_CONTROLLER_EPOCH, {}
        errors: dict[tuple[str, int], int] = {}
        leaders: list[Partition] = []
        followers: list[Partition] = []
        for st in states:
            key = (st.topic, st.partition)
            if not self.owns(st.topic, st.partition):
                continue
            partition = self.partitions.get(key)
            created = False
            if partition is None:
                info = self.metadata.topics.get(st.topic)
                if info is None:
                    errors[key] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                    continue
                try:
                    self.open_partitions(info, [st.partition])
                except OSError as exc:
                    log.error("cannot open %s-%d for LeaderAndIsr: %s", st.topic, st.partition, exc)
                    errors[key] = ErrorCode.KAFKA_STORAGE_ERROR
                    continue
                partition = self.partitions[key]
                created = True
            topic_id = topic_ids.get(st.topic)
            if topic_id is not None and partition.topic_id is not None and partition.topic_id != topic_id:
                errors[key] = ErrorCode.INCONSISTENT_TOPIC_ID
                continue
            if not created and st.leader_epoch <= partition.leader_epoch:
                log.info(
                    "ignoring LeaderAndIsr for %s-%d: leader epoch %d is not newer than %d",
                    st.topic,
                    st.partition,
                    st.leader_epoch,
                    partition.leader_epoch,
                )
                errors[key] = ErrorCode.STALE_CONTROLLER_EPOCH
                continue
            if self.broker_id not in st.replicas:
                log.warning(
                    "ignoring LeaderAndIsr for %s-%d: broker %d is not among its replicas %s",
                    st.topic,
                    st.partition,
                    self.broker_id,
                    list(st.replicas),
                )
                errors[key] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                continue
            if topic_id is not None:
                partition.topic_id = topic_id
            was_leader = partition.is_leader and not created
            partition.apply_leadership(
                self.broker_id,
                st.leader,
                st.leader_epoch,
                st.isr,
                st.replicas,
                st.partition_epoch,
                st.controller_epoch,
            )
            self._took_leadership(partition)
            self.publish(st.topic, st.partition)
            errors[key] = ErrorCode.NONE
            (leaders if partition.is_leader else followers).append(partition)
            if was_leader or not partition.is_leader:
                self.notify_high_watermark(*key)  # parked requests answer again (not the leader, or a new epoch)
        if leaders or followers:
            log.info(
                "LeaderAndIsr from controller %d (epoch %d): leader of %d, follower of %d partitions",
                controller_id,
                controller_epoch,
                len(leaders),
                len(followers),
            )
            if self.on_leadership is not None:
                self.on_leadership(leaders, followers)
        return ErrorCode.NONE, errors

    def follow_registry(self, registry) -> None:
        """A process that does not take the controller's requests itself (a handler other than
        handler 0 in the multi-process topology) holds the partitions it owns as the registry
        handler 0 published describes them: it opens those that name this broker among their
        replicas, takes each newer leader epoch, and stops holding (files kept: StopReplica
        deletes them) those the registry no longer gives this broker. OSError (a log that cannot be
        opened) after the rest is applied: the caller tries again."""
        self.controller_epoch = max(self.controller_epoch, registry.controller_epoch)
        leaders: list[Partition] = []
        followers: list[Partition] = []
        for key in list(self.partitions):
            state = registry.state(*key)
            if state is None or self.broker_id not in state.replicas:
                partition = self.partitions.pop(key)
                partition.is_leader = False
                self.fetchers.remove(key)
                self.produce_purgatory.notify(key)
                self._forget_row(*key)
                self.logs.close_log(*key)
                self.fetch_purgatory.notify(key)
                followers.append(partition)
        failure: OSError | None = None
        for topic, parts in registry.states.items():
            info = registry.topics.get(topic)
            if info is None:
                continue
            for index, state in parts.items():
                if not self.owns(topic, index) or self.broker_id not in state.replicas:
                    continue
                key = (topic, index)
                partition = self.partitions.get(key)
                created = partition is None
                if created:
                    try:
                        self.open_partitions(info, [index])
                    except OSError as exc:
                        failure = failure or exc
                        continue
                    partition = self.partitions[key]
                if not created and state.leader_epoch <= partition.leader_epoch:
                    continue
                was_leader = partition.is_leader and not created
                partition.topic_id = info.topic_id
                partition.apply_leadership(
                    self.broker_id,
                    state.leader,
                    state.leader_epoch,
                    state.isr,
                    state.replicas,
                    state.zk_version,
                    registry.controller_epoch,
                )
                self._took_leadership(partition)
                self.publish(topic, index)
                (leaders if partition.is_leader else followers).append(partition)
                if was_leader or not partition.is_leader:
                    self.notify_high_watermark(*key)
            self.apply_topic_configs(info)
        if (leaders or followers) and self.on_leadership is not None:
            self.on_leadership(leaders, followers)
        if failure is not None:
            raise failure

    def _forget_row(self, topic: str, index: int) -> None:
        """A process that publishes its partitions (server/multiproc/handler_broker.py) frees the
        partition's row here."""

    def publish(self, topic: str, index: int) -> None:
        """A process whose partitions other processes read (server/multiproc/handler_broker.py)
        publishes the partition's offsets and leader epoch here."""

    def before_truncate(self, topic: str, index: int) -> None:
        """A follower's log is about to be truncated (its segment files may go)."""

    def after_follower_change(self, topic: str, index: int) -> None:
        """A follower's log took fetched batches, or was truncated."""
        self.publish(topic, index)

    def stop_replicas(
        self, controller_id: int, controller_epoch: int, states: Iterable[StopReplicaState]
    ) -> tuple[int, dict[tuple[str, int], int]]:
        """Apply a StopReplica request: (request error, per-partition errors)."""
        if not self.accept_controller_epoch(controller_epoch):
            log.warning(
                "ignoring StopReplica from controller %d: its epoch %d is older than %d",
                controller_id,
                controller_epoch,
                self.controller_epoch,
            )
            return ErrorCode.STALE_CONTROLLER_EPOCH, {}
        errors: dict[tuple[str, int], int] = {}
        stopped: list[Partition] = []
        for st in states:
            key = (st.topic, st.partition)
            if not self.owns(st.topic, st.partition):
                # another process's: it stopped holding it when its topic left the metadata (which
                # every process applied before the controller could send this); its files go here
                errors[key] = ErrorCode.NONE
                if st.delete and st.topic not in self.metadata.topics:
                    self.logs.delete(st.topic, st.partition)
                continue
            partition = self.partitions.get(key)
            if partition is not None and st.leader_epoch not in (EPOCH_DURING_DELETE, NO_EPOCH):
                if st.leader_epoch <= partition.leader_epoch:
                    errors[key] = ErrorCode.FENCED_LEADER_EPOCH
                    continue
            errors[key] = ErrorCode.NONE
            self.fetchers.remove(key)
            if st.delete:
                try:
                    if partition is not None:
                        stopped.append(partition)
                        partition.is_leader = False
                        self.produce_purgatory.notify(key)
                    self.remove_partition(st.topic, st.partition)
                    self.forget_topic(st.topic)
                except OSError as exc:
                    log.error("cannot delete %s-%d: %s", st.topic, st.partition, exc)
                    errors[key] = ErrorCode.KAFKA_STORAGE_ERROR
            else:
                self.fetch_purgatory.notify(key)
        if stopped and self.on_leadership is not None:
            self.on_leadership([], stopped)
        return ErrorCode.NONE, errors

    # -- replication ----------------------------------------------------------------------------
    def _took_leadership(self, partition: Partition) -> None:
        """After a partition took a LeaderAndIsr state: fetch it from its leader, or stop."""
        key = (partition.topic, partition.index)
        if partition.is_leader or not self.following:
            self.fetchers.remove(key)
        else:
            self.fetchers.add(partition)

    def stop_following(self) -> None:
        """The broker makes its controlled shutdown: fetch nothing more. Kafka's controller sends
        the followers of such a broker StopReplica (without delete) and leaves them out of the
        ISR; a process that follows the registry instead of taking that request (a handler
        other than handler 0) stops here, else a new leader epoch would start its fetchers
        again and the leaders would take it back into their ISR just before it stops."""
        self.following = False
        self.fetchers.close()

    def record_follower_fetch(self, partition: Partition, replica_id: int, fetch_offset: int, log_start: int) -> None:
        if partition.update_follower_fetch(replica_id, fetch_offset, log_start, now_ms()):
            self.notify_high_watermark(partition.topic, partition.index)
        if replica_id not in partition.isr and partition.follower_in_sync(replica_id):
            self._change_isr(partition, partition.isr + (replica_id,), "caught up")

    def maybe_shrink_isr(self) -> None:
        """Drop the followers that lagged more than replica.lag.time.max.ms from the ISRs of the
        partitions this broker leads (Kafka checks every half of it; the maintenance tick here)."""
        if self.isr_writer is None:
            return
        lag = self.config.get("replica.lag.time.max.ms")
        now = now_ms()
        for p in self.partitions.values():
            if p.is_leader and p.followers and not p.isr_change_in_flight:
                out = p.out_of_sync_replicas(now, lag)
                if out:
                    self._change_isr(p, tuple(r for r in p.isr if r not in out), f"{out} not caught up within {lag} ms")

    def _change_isr(self, partition: Partition, new_isr: tuple[int, ...], why: str) -> None:
        if partition.isr_change_in_flight or self.isr_writer is None:
            return
        partition.isr_change_in_flight = True
        task = asyncio.get_running_loop().create_task(self._write_isr(partition, new_isr, why))
        self._isr_tasks.add(task)
        task.add_done_callback(self._isr_tasks.discard)

    async def _write_isr(self, p: Partition, new_isr: tuple[int, ...], why: str) -> None:
        epoch = p.leader_epoch
        assert self.isr_writer is not None
        try:
            version = await self.isr_writer(p, new_isr)
        except Exception as exc:
            log.warning("cannot write the ISR %s of %s-%d to ZooKeeper: %r", list(new_isr), p.topic, p.index, exc)
            version = None
        finally:
            p.isr_change_in_flight = False
        if not p.is_leader or p.leader_epoch != epoch or self.partitions.get((p.topic, p.index)) is not p:
            return
        if version is None:
            # Kafka's "cached zkVersion not equal to that in zookeeper": the controller changed the
            # state; its LeaderAndIsr follows. Until then the ISR in memory stays as it was.
            log.info("ISR of %s-%d not changed to %s: the state in ZooKeeper moved on", p.topic, p.index, list(new_isr))
            return
        log.info(
            "ISR of %s-%d: %s -> %s (%s), partition epoch %d",
            p.topic,
            p.index,
            list(p.isr),
            list(new_isr),
            why,
            version,
        )
        if self.stats is not None:
            self.stats.count(Counter.ISR_SHRINKS if len(new_isr) < len(p.isr) else Counter.ISR_EXPANDS)
        p.isr = new_isr
        p.partition_epoch = version
        if p.maybe_increment_high_watermark():
            self.publish(p.topic, p.index)
        self.notify_high_watermark(p.topic, p.index)  # acks=all waiters see the new ISR size
        self._isr_changed.add((p.topic, p.index))
        if self._isr_notify_task is None or self._isr_notify_task.done():
            self._isr_notify_task = asyncio.get_running_loop().create_task(self._notify_isr_changes())

    async def _notify_isr_changes(self) -> None:
        """Announce the ISR changes of the last moments in one notification (Kafka batches them)."""
        await asyncio.sleep(ISR_NOTIFY_DELAY_S)
        changed, self._isr_changed = sorted(self._isr_changed), set()
        if changed and self.isr_notifier is not None:
            try:
                await self.isr_notifier(changed)
            except Exception as exc:
                log.warning("cannot announce the ISR changes of %d partitions: %r", len(changed), exc)

    def run_maintenance(self) -> None:
        super().run_maintenance()
        self.maybe_shrink_isr()

    def close(self) -> None:
        self.fetchers.close()
        for t in self._isr_tasks:
            t.cancel()
        super().close()
