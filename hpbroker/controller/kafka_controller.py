"""KafkaController: the cluster's controller, run by the broker that wins the election
(Kafka 2.8's KafkaController, ZooKeeper mode).

Theory of operation
-------------------
Every broker runs one. It watches /controller; when that znode is missing it tries to become the
controller (``KafkaZkClient.register_controller_and_increment_controller_epoch``: one multi that
creates the ephemeral /controller and bumps /controller_epoch at the version read, so exactly one
contender wins, and every later write of the winner is fenced by that version). The winner fails
over (``_on_controller_failover``):

1. watches /brokers/ids, /brokers/topics, /admin/delete_topics, /isr_change_notification and each
   topic's assignment;
2. loads the context from ZooKeeper: live brokers and their epochs, topics and assignments
   (giving a topic id to a topic that has none), each partition's leadership;
3. sends every live broker an UpdateMetadata (the live brokers), then starts the replica state
   machine (LeaderAndIsr to every live replica) and the partition state machine (leaders
   elected for new and offline partitions), and resumes pending topic deletions.

Then it reacts to events (events.py), one at a time:

- BrokerChange: a new broker (or one that came back: a larger broker epoch for a known id)
  gets a full UpdateMetadata and LeaderAndIsr for its replicas, and offline partitions it may
  lead are elected; a dead broker's replicas go Offline and the partitions it led get a new
  leader from the ISR, or none (offline, leader -1) until an ISR member returns.
- TopicChange / PartitionModifications: new partitions go New, then Online.
- TopicDeletion: topic_deletion.py.
- IsrChangeNotification: a leader changed an ISR in ZooKeeper: every broker gets UpdateMetadata.
- ControlledShutdown: the broker is marked shutting down; the partitions it leads that have
  another replica get a leader elected without it, it leaves the ISR of those it follows; the
  answer lists the partitions it still leads that could move.
- Expire: the session is gone: resign at once. Reelect / ControllerChange: resign if another
  broker is the controller, elect if there is none.

A ControllerMovedError from any fenced write (another broker won a later election) makes this
one resign. Resigning drops the watches, the channels and the context.

Who may touch: the event loop of the broker; ``put`` events from anywhere (events.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from hpbroker.cluster import zk_data as zd
from hpbroker.cluster.broker_client import InterBrokerSecurity
from hpbroker.cluster.zk_data import TopicPartition, ZkDataError
from hpbroker.cluster.zk_session import ControllerMovedError, ZkUnavailableError
from hpbroker.controller import events as ev
from hpbroker.controller.channel import ControllerChannelManager
from hpbroker.controller.context import ControllerContext, PartitionAndReplica
from hpbroker.controller.partition_state_machine import PartitionStateMachine, Strategy
from hpbroker.controller.replica_state_machine import ReplicaStateMachine
from hpbroker.controller.request_batch import RequestBatch
from hpbroker.controller.states import PartitionState, ReplicaState
from hpbroker.controller.topic_deletion import TopicDeletionManager

log = logging.getLogger(__name__)

REELECT_RETRY_S = 1.0  # an election that met an unreachable ZooKeeper is tried again this often


class StaleBrokerEpoch(Exception):
    pass


class BrokerNotAvailable(Exception):
    pass


def _malformed(exc: ZkDataError) -> None:
    log.error("malformed znode %s (ignored)", exc)


class KafkaController:
    def __init__(self, config, broker_id: int, zk, security: InterBrokerSecurity | None = None, stats=None):
        self.config = config
        self.broker_id = broker_id
        #: how the channel reaches the brokers (their inter-broker listener)
        self.security = security or InterBrokerSecurity.from_config(config)
        self.stats = stats  # ProcessStats or None
        self.zk = zk  # an AsyncZk (cluster/async_zk.py)
        self.ctx = ControllerContext()
        self.active_controller_id = -1
        self.loop: asyncio.AbstractEventLoop | None = None
        self.events: ev.EventQueue | None = None
        self._task: asyncio.Task | None = None
        self._watch_generation = 0
        self._topic_watches: dict[str, int] = {}
        self.channel: ControllerChannelManager | None = None
        #: called with the controller id whenever this broker learns who the controller is
        self.on_controller_known = None

    # -- life --------------------------------------------------------------------------------
    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.events = ev.EventQueue(self.loop)
        self._task = self.loop.create_task(self._run(), name="controller-events")
        self.events.put(ev.Startup())

    async def stop(self) -> None:
        if self._task is None or self.events is None:
            return
        self.events.clear_and_put(ev.Shutdown())
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 10)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self._task.cancel()
        self._task = None

    @property
    def is_active(self) -> bool:
        return self.active_controller_id == self.broker_id

    def put(self, event: ev.Event) -> None:
        """From the loop's thread."""
        if self.events is not None:
            self.events.put(event)

    def put_threadsafe(self, event: ev.Event) -> None:
        if self.events is not None:
            self.events.put_threadsafe(event)

    def session_expired(self) -> None:
        if self.events is not None:
            self.events.clear_and_put(ev.Expire())

    async def controlled_shutdown(self, broker_id: int, broker_epoch: int) -> list[TopicPartition]:
        """The partitions ``broker_id`` still leads that could move (none: it may stop); raises
        ControllerMovedAway, StaleBrokerEpoch or BrokerNotAvailable."""
        if self.events is None or self.loop is None:
            raise ev.ControllerMovedAway(f"broker {self.broker_id} is not the controller")
        answer = self.loop.create_future()
        self.events.put(ev.ControlledShutdown(broker_id, broker_epoch, answer))
        return await answer

    async def _run(self) -> None:
        assert self.events is not None
        while True:
            event = await self.events.get()
            if isinstance(event, ev.Shutdown):
                if self.is_active:
                    self._on_controller_resignation()
                self.active_controller_id = -1
                return
            try:
                await self._process(event)
            except ControllerMovedError as exc:
                log.info("controller moved to another broker while processing %s: %s", event.name, exc)
                await self._safely(self._maybe_resign)
            except ZkUnavailableError as exc:
                log.error("ZooKeeper did not answer while processing %s: %s", event.name, exc)
            except Exception:
                log.exception("the controller failed to process %s", event.name)
            finally:
                if isinstance(event, ev.ControlledShutdown) and event.answer is not None and not event.answer.done():
                    event.answer.set_exception(ev.ControllerMovedAway("the controller could not handle it"))

    async def _safely(self, fn) -> None:
        try:
            await fn()
        except Exception:
            log.exception("the controller failed in %s", fn.__name__)

    async def _process(self, event: ev.Event) -> None:
        if isinstance(event, ev.Startup):
            await self._watch_controller()
            await self._elect()
        elif isinstance(event, ev.Reelect):
            await self._maybe_resign()
            await self._elect()
        elif isinstance(event, ev.ControllerChange):
            await self._maybe_resign()
        elif isinstance(event, ev.Expire):
            was_active = self.is_active
            self.active_controller_id = -1
            if was_active:
                self._on_controller_resignation()
        elif not self.is_active:
            if isinstance(event, ev.ControlledShutdown) and event.answer is not None and not event.answer.done():
                event.answer.set_exception(ev.ControllerMovedAway(f"broker {self.broker_id} is not the controller"))
        elif isinstance(event, ev.BrokerChange):
            await self._process_broker_change()
        elif isinstance(event, ev.TopicChange):
            await self._process_topic_change()
        elif isinstance(event, ev.PartitionModifications):
            await self._process_partition_modifications(event.topic)
        elif isinstance(event, ev.TopicDeletion):
            await self._process_topic_deletion()
        elif isinstance(event, ev.IsrChangeNotification):
            await self._process_isr_change_notification()
        elif isinstance(event, ev.ControlledShutdown):
            await self._process_controlled_shutdown(event)
        elif isinstance(event, ev.StopReplicaAnswered):
            await self._process_stop_replica_answered(event)

    # -- election ------------------------------------------------------------------------------
    def _known_controller(self, controller_id: int | None) -> None:
        self.active_controller_id = -1 if controller_id is None else controller_id
        if self.on_controller_known is not None:
            self.on_controller_known(self.active_controller_id)

    async def _watch_controller(self) -> None:
        first = [True]

        def changed(data, stat):
            if first[0]:
                first[0] = False  # the call at registration: the election below reads it anyway
                return True
            self.put_threadsafe(ev.Reelect() if stat is None else ev.ControllerChange())
            return True

        await self.zk(self.zk.client.watch_data, zd.CONTROLLER_PATH, changed)

    async def _elect(self) -> None:
        try:
            current = await self.zk(self.zk.client.get_controller_id)
        except ZkDataError as exc:
            log.error("malformed %s: %s; waiting for it to change", zd.CONTROLLER_PATH, exc)
            return
        except ZkUnavailableError as exc:
            log.error("cannot elect a controller: %s; trying again", exc)
            self._retry_election()
            return
        self._known_controller(current)
        if current is not None:
            return
        try:
            epoch, zk_version = await self.zk(
                self.zk.client.register_controller_and_increment_controller_epoch, self.broker_id
            )
        except ControllerMovedError:
            await self._maybe_resign()
            return
        except ZkUnavailableError as exc:
            log.error("cannot elect a controller: %s; trying again", exc)
            self._retry_election()
            return
        self.ctx.epoch, self.ctx.epoch_zk_version = epoch, zk_version
        self._known_controller(self.broker_id)
        log.info("broker %d is the controller (controller epoch %d)", self.broker_id, epoch)
        try:
            await self._on_controller_failover()
        except ControllerMovedError:
            raise
        except Exception:
            log.exception("broker %d failed to become the controller; resigning", self.broker_id)
            await self._trigger_controller_move()

    def _retry_election(self) -> None:
        assert self.loop is not None
        self.loop.call_later(REELECT_RETRY_S, self.put, ev.Reelect())

    async def _maybe_resign(self) -> None:
        was_active = self.is_active
        try:
            current = await self.zk(self.zk.client.get_controller_id)
        except ZkDataError:
            current = None
        self._known_controller(current)
        if was_active and not self.is_active:
            self._on_controller_resignation()

    async def _trigger_controller_move(self) -> None:
        if not self.is_active:
            return
        fence = self.ctx.epoch_zk_version
        self.active_controller_id = -1
        self._on_controller_resignation()
        try:
            await self.zk(self.zk.client.delete_controller, fence)
        except ControllerMovedError:
            log.warning("the controller had moved already")

    def _on_controller_resignation(self) -> None:
        log.info("broker %d resigns as the controller", self.broker_id)
        self._watch_generation += 1  # every watch of this term stops at its next call
        self._topic_watches.clear()
        if self.channel is not None:
            self.channel.shutdown()
            self.channel = None
        self.ctx.reset()

    # -- failover ------------------------------------------------------------------------------
    async def _on_controller_failover(self) -> None:
        ctx = self.ctx
        self.channel = ControllerChannelManager(self.broker_id, self.security)
        self.batch = RequestBatch(self.broker_id, ctx, self.channel)
        self.batch.on_stop_replica_deleted = self._stop_replica_answered
        self.psm = PartitionStateMachine(self.broker_id, ctx, self.zk, self.batch, self._unclean_allowed, self.stats)
        self.rsm = ReplicaStateMachine(self.broker_id, ctx, self.zk, self.batch)
        self.deletion = TopicDeletionManager(
            ctx, self.zk, self.batch, self.psm, self.rsm, bool(self.config.get("delete.topic.enable"))
        )
        for path, event in (
            (zd.BROKER_IDS_PATH, ev.BrokerChange),
            (zd.TOPICS_PATH, ev.TopicChange),
            (zd.DELETE_TOPICS_PATH, ev.TopicDeletion),
            (zd.ISR_CHANGE_NOTIFICATION_PATH, ev.IsrChangeNotification),
        ):
            await self._watch_children(path, event)
        pending = await self.zk(self.zk.client.get_all_isr_change_notifications)
        await self.zk(self.zk.client.delete_isr_change_notifications, pending, ctx.epoch_zk_version)
        await self._initialize_context()
        to_delete = set(await self.zk(self.zk.client.get_topic_deletions))
        offline_topics = {
            t for t in ctx.all_topics if any(not ctx.is_replica_online(pr.replica) for pr in ctx.replicas_for_topic(t))
        }
        await self.deletion.init(to_delete & ctx.all_topics, offline_topics)
        # brokers learn the live brokers before the LeaderAndIsr requests that name them
        self._send_update_metadata(ctx.live_or_shutting_down_ids, [])
        await self.rsm.startup()
        await self.psm.startup()
        log.info(
            "controller %d ready (epoch %d): %d live brokers, %d topics, %d partitions",
            self.broker_id,
            ctx.epoch,
            len(ctx.live_brokers),
            len(ctx.all_topics),
            len(ctx.all_partitions),
        )
        await self.deletion.resume_deletions()

    async def _watch_children(self, path: str, event_type) -> None:
        generation = self._watch_generation
        first = [True]

        def changed(children):
            if self._watch_generation != generation:
                return False
            if first[0]:
                first[0] = False
                return True
            self.put_threadsafe(event_type())
            return True

        await self.zk(self.zk.client.watch_children, path, changed)

    async def _watch_topic(self, topic: str) -> None:
        generation = self._watch_generation
        self._topic_watches[topic] = token = id(object())
        first = [True]

        def changed(data, stat):
            if self._watch_generation != generation or self._topic_watches.get(topic) != token:
                return False
            if first[0]:
                first[0] = False
                return True
            if stat is None:
                return False
            self.put_threadsafe(ev.PartitionModifications(topic))
            return True

        await self.zk(self.zk.client.watch_data, zd.topic_path(topic), changed)

    async def _initialize_context(self) -> None:
        ctx = self.ctx
        ctx.set_live_brokers(await self.zk(self.zk.client.get_all_brokers_and_epochs, _malformed))
        topics = await self.zk(self.zk.client.get_all_topics)
        await self._add_topics(topics)
        ctx.shutting_down.clear()
        tps = ctx.all_partitions
        states = await self.zk(self.zk.client.get_partition_states, tps, _malformed)
        ctx.leadership.clear()
        ctx.leadership.update(states)
        assert self.channel is not None
        for info in ctx.live_brokers.values():
            self.channel.add_broker(info)
        log.info("live brokers %s, topics %d", sorted(ctx.live_brokers), len(ctx.all_topics))

    async def _add_topics(self, topics) -> dict[str, zd.TopicAssignment]:
        """Load the assignments (and topic ids) of ``topics`` into the context, watching each."""
        ctx = self.ctx
        assignments = await self.zk(self.zk.client.get_topic_assignments, topics, _malformed)
        for topic, assignment in assignments.items():
            topic_id = assignment.topic_id
            if topic_id is None:  # written by a Kafka older than 2.8, or by hand: give it one
                topic_id = uuid.uuid4().bytes
                await self.zk(
                    self.zk.client.set_topic_assignment,
                    topic,
                    topic_id,
                    dict(assignment.partitions),
                    expected_controller_epoch_zk_version=ctx.epoch_zk_version,
                )
            ctx.all_topics.add(topic)
            ctx.topic_ids[topic] = topic_id
            for p, a in assignment.partitions.items():
                ctx.set_assignment(TopicPartition(topic, p), a)
            await self._watch_topic(topic)
        return assignments

    # -- the requests --------------------------------------------------------------------------
    def _send_update_metadata(self, brokers, partitions) -> None:
        self.batch.new_batch()
        self.batch.add_update_metadata(brokers, partitions)
        self.batch.send(self.ctx.epoch)

    def _stop_replica_answered(self, broker_id: int, error_code: int, errors: dict) -> None:
        self.put(ev.StopReplicaAnswered(broker_id, error_code, errors))

    async def _unclean_allowed(self, topics: set[str]) -> dict[str, bool]:
        """unclean.leader.election.enable of each topic: its override in ZooKeeper, else the
        broker's (static or dynamic) value."""
        default = bool(self.config.get("unclean.leader.election.enable"))
        out = {}
        for topic in topics:
            try:
                configs = await self.zk(self.zk.client.get_entity_configs, zd.TOPIC_CONFIG_TYPE, topic)
            except ZkDataError as exc:
                log.error("malformed config of %s: %s; taking the broker's", topic, exc)
                configs = {}
            value = configs.get("unclean.leader.election.enable")
            out[topic] = default if value is None else value.strip().lower() == "true"
        return out

    # -- events --------------------------------------------------------------------------------
    async def _process_broker_change(self) -> None:
        ctx = self.ctx
        current = await self.zk(self.zk.client.get_all_brokers_and_epochs, _malformed)
        known = ctx.live_or_shutting_down_ids
        new = sorted(set(current) - known)
        dead = sorted(known - set(current))
        bounced = sorted(i for i in set(current) & known if current[i][1] > ctx.broker_epochs.get(i, -1))
        log.info("brokers: new %s, dead %s, bounced %s, live %s", new, dead, bounced, sorted(current))
        assert self.channel is not None
        for i in new:
            self.channel.add_broker(current[i][0])
        for i in bounced:
            self.channel.remove_broker(i)
            self.channel.add_broker(current[i][0])
        for i in dead:
            self.channel.remove_broker(i)
        if new:
            ctx.add_live_brokers({i: current[i] for i in new})
            await self._on_broker_startup(new)
        if bounced:
            ctx.remove_live_brokers(bounced)
            await self._on_broker_failure(bounced)
            ctx.add_live_brokers({i: current[i] for i in bounced})
            await self._on_broker_startup(bounced)
        if dead:
            ctx.remove_live_brokers(dead)
            await self._on_broker_failure(dead)

    async def _on_broker_startup(self, new: list[int]) -> None:
        ctx = self.ctx
        existing = ctx.live_or_shutting_down_ids - set(new)
        self._send_update_metadata(existing, [])
        self._send_update_metadata(new, ctx.partitions_with_leaders())
        replicas = ctx.replicas_on_brokers(set(new))
        await self.rsm.handle_state_changes(replicas, ReplicaState.ONLINE)
        await self.psm.trigger_online_partition_state_change()
        deleting = {pr.tp.topic for pr in replicas if ctx.is_queued_for_deletion(pr.tp.topic)}
        if deleting:
            await self.deletion.resume_for_topics(deleting)

    async def _on_broker_failure(self, dead: list[int]) -> None:
        ctx = self.ctx
        for i in dead:
            ctx.shutting_down.discard(i)
        await self._on_replicas_become_offline(ctx.replicas_on_brokers(set(dead)))

    async def _on_replicas_become_offline(self, replicas: list[PartitionAndReplica]) -> None:
        ctx = self.ctx
        for_deletion = [pr for pr in replicas if ctx.is_queued_for_deletion(pr.tp.topic)]
        not_for_deletion = [pr for pr in replicas if not ctx.is_queued_for_deletion(pr.tp.topic)]
        offline_leader = ctx.partitions_with_offline_leader()
        await self.psm.handle_state_changes(offline_leader, PartitionState.OFFLINE)
        await self.psm.trigger_online_partition_state_change()
        await self.rsm.handle_state_changes(not_for_deletion, ReplicaState.OFFLINE)
        if for_deletion:
            await self.deletion.fail_replica_deletion(for_deletion)
        if not offline_leader:
            self._send_update_metadata(ctx.live_or_shutting_down_ids, [])

    async def _on_new_partition_creation(self, partitions: list[TopicPartition]) -> None:
        ctx = self.ctx
        log.info("new partitions: %d (%s)", len(partitions), ", ".join(sorted({tp.topic for tp in partitions})))
        await self.psm.handle_state_changes(partitions, PartitionState.NEW)
        await self.rsm.handle_state_changes(ctx.replicas_for_partitions(partitions), ReplicaState.NEW)
        await self.psm.handle_state_changes(partitions, PartitionState.ONLINE, Strategy.OFFLINE)
        await self.rsm.handle_state_changes(ctx.replicas_for_partitions(partitions), ReplicaState.ONLINE)

    async def _process_topic_change(self) -> None:
        ctx = self.ctx
        topics = set(await self.zk(self.zk.client.get_all_topics))
        new = topics - ctx.all_topics
        deleted = ctx.all_topics - topics
        for t in deleted:
            ctx.remove_topic(t)
            self._topic_watches.pop(t, None)
        assignments = await self._add_topics(sorted(new))
        partitions = [TopicPartition(t, p) for t, a in assignments.items() for p in a.partitions]
        if new or deleted:
            log.info("topics: new %s, deleted %s", sorted(new), sorted(deleted))
        if partitions:
            await self._on_new_partition_creation(partitions)

    async def _process_partition_modifications(self, topic: str) -> None:
        ctx = self.ctx
        if topic not in ctx.all_topics:
            return
        try:
            found = await self.zk(self.zk.client.get_topic_assignment, topic)
        except ZkDataError as exc:
            log.error("malformed assignment of %s: %s", topic, exc)
            return
        if found is None:
            return
        assignment, _ = found
        added = {p: a for p, a in assignment.partitions.items() if not ctx.replicas(TopicPartition(topic, p))}
        if not added:
            return
        if ctx.is_queued_for_deletion(topic):
            log.warning("not adding partitions %s to %s: it is being deleted; restoring its assignment", added, topic)
            existing = {p: ctx.full_assignment(TopicPartition(topic, p)) for p in ctx.assignments.get(topic, {})}
            await self.zk(
                self.zk.client.set_topic_assignment,
                topic,
                ctx.topic_ids.get(topic),
                existing,
                expected_controller_epoch_zk_version=ctx.epoch_zk_version,
            )
            return
        for p, a in added.items():
            ctx.set_assignment(TopicPartition(topic, p), a)
        await self._on_new_partition_creation([TopicPartition(topic, p) for p in sorted(added)])

    async def _process_topic_deletion(self) -> None:
        ctx = self.ctx
        marked = set(await self.zk(self.zk.client.get_topic_deletions))
        unknown = marked - ctx.all_topics
        if unknown:
            log.warning("ignoring the deletion of topics that do not exist: %s", sorted(unknown))
            await self.zk(self.zk.client.delete_topic_deletions, sorted(unknown), ctx.epoch_zk_version)
        marked -= unknown
        if not self.deletion.enabled:
            if marked:
                log.info("removing the deletion marks of %s: delete.topic.enable is false", sorted(marked))
                await self.zk(self.zk.client.delete_topic_deletions, sorted(marked), ctx.epoch_zk_version)
            return
        new = marked - ctx.topics_to_be_deleted
        if new:
            log.info("deleting topics %s", sorted(new))
            await self.deletion.enqueue(new)

    async def _process_isr_change_notification(self) -> None:
        ctx = self.ctx
        sequences = await self.zk(self.zk.client.get_all_isr_change_notifications)
        try:
            partitions = await self.zk(
                self.zk.client.get_partitions_from_isr_change_notifications, sequences, _malformed
            )
            partitions = [tp for tp in partitions if tp.topic in ctx.all_topics]
            if partitions:
                states = await self.zk(self.zk.client.get_partition_states, partitions, _malformed)
                ctx.leadership.update(states)
                self._send_update_metadata(ctx.live_or_shutting_down_ids, partitions)
        finally:
            await self.zk(self.zk.client.delete_isr_change_notifications, sequences, ctx.epoch_zk_version)

    async def _process_controlled_shutdown(self, event: ev.ControlledShutdown) -> None:
        answer = event.answer
        try:
            remaining = await self._do_controlled_shutdown(event.broker_id, event.broker_epoch)
        except Exception as exc:
            if answer is not None and not answer.done():
                answer.set_exception(exc)
            if isinstance(exc, ControllerMovedError):
                raise
            return
        if answer is not None and not answer.done():
            answer.set_result(remaining)

    async def _do_controlled_shutdown(self, broker_id: int, broker_epoch: int) -> list[TopicPartition]:
        ctx = self.ctx
        if broker_epoch != -1:
            cached = ctx.broker_epochs.get(broker_id)
            if cached is not None and broker_epoch < cached:
                raise StaleBrokerEpoch(
                    f"controlled shutdown of broker {broker_id} from broker epoch {broker_epoch}; "
                    f"its current broker epoch is {cached}"
                )
        if broker_id not in ctx.live_brokers:
            raise BrokerNotAvailable(f"Broker id {broker_id} does not exist.")
        log.info("controlled shutdown of broker %d", broker_id)
        ctx.shutting_down.add(broker_id)
        to_act_on = [
            tp
            for tp in ctx.partitions_on_broker(broker_id)
            if len(ctx.replicas(tp)) > 1 and tp in ctx.leadership and not ctx.is_queued_for_deletion(tp.topic)
        ]
        led = [tp for tp in to_act_on if ctx.leadership[tp].leader_and_isr.leader == broker_id]
        followed = [tp for tp in to_act_on if ctx.leadership[tp].leader_and_isr.leader != broker_id]
        await self.psm.handle_state_changes(led, PartitionState.ONLINE, Strategy.CONTROLLED_SHUTDOWN)
        self.batch.new_batch()
        for tp in followed:
            self.batch.add_stop_replica([broker_id], tp, delete=False)
        self.batch.send(ctx.epoch)
        await self.rsm.handle_state_changes(
            [PartitionAndReplica(tp, broker_id) for tp in followed], ReplicaState.OFFLINE
        )
        return ctx.partition_leaders_on_broker(broker_id)

    async def _process_stop_replica_answered(self, event: ev.StopReplicaAnswered) -> None:
        failed = {tp for tp, code in event.partition_errors.items() if code or event.error_code}
        done = set(event.partition_errors) - failed
        await self.deletion.fail_replica_deletion([PartitionAndReplica(tp, event.broker_id) for tp in failed])
        if done:
            await self.deletion.complete_replica_deletion([PartitionAndReplica(tp, event.broker_id) for tp in done])
