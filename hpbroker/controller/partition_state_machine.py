"""The partition state machine (Kafka's ZkPartitionStateMachine): moves partitions between the
states of states.py, writing ZooKeeper and gathering the requests that tell brokers.

- to Online from New: the state znode is created with the first live replica as leader and the
  live replicas as ISR (leader epoch 0, zkVersion 0); LeaderAndIsr (is_new) to the ISR.
- to Online from Offline or Online: a leader elected by the strategy (election.py) from the
  state just read from ZooKeeper, written as a CAS on its zkVersion (a BADVERSION, from a
  leader's ISR change in between, is read again and decided again); LeaderAndIsr to the live
  replicas. A state written by a newer controller epoch aborts the election: this controller
  has been replaced.
- to Offline, NonExistent: the state only (the leader is gone, or the topic).

Every write is fenced by the controller epoch's zkVersion: ``ControllerMovedError`` goes up to
the controller, which resigns. Each ``handle_state_changes`` is one batch of requests, sent at its
end.

Who may touch: the controller, while it processes one event.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterable

from hpbroker.cluster.zk_data import LeaderAndIsr, LeaderIsrAndControllerEpoch, TopicPartition, ZkDataError
from hpbroker.cluster.zk_session import ControllerMovedError
from hpbroker.controller import election
from hpbroker.controller.context import ControllerContext
from hpbroker.controller.request_batch import RequestBatch
from hpbroker.controller.states import PARTITION_VALID_PREVIOUS, PartitionState, valid_partition_change
from hpbroker.metrics.layout import Counter, Histogram

log = logging.getLogger(__name__)


class Strategy(enum.Enum):
    OFFLINE = "OfflinePartitionLeaderElectionStrategy"
    CONTROLLED_SHUTDOWN = "ControlledShutdownPartitionLeaderElectionStrategy"
    PREFERRED = "PreferredReplicaPartitionLeaderElectionStrategy"


class StateChangeFailed(Exception):
    pass


class PartitionStateMachine:
    def __init__(
        self, controller_id: int, ctx: ControllerContext, zk, batch: RequestBatch, unclean_allowed, stats=None
    ):
        self.controller_id = controller_id
        #: ProcessStats: each election's time (LeaderElectionRateAndTimeMs) and unclean leaders
        self.stats = stats
        self.ctx = ctx
        self.zk = zk  # an AsyncZk (cluster/async_zk.py)
        self.batch = batch
        #: async (topics) -> {topic: bool}: unclean.leader.election.enable of each (topic, else broker)
        self.unclean_allowed = unclean_allowed

    async def startup(self) -> None:
        ctx = self.ctx
        for tp in ctx.all_partitions:
            lice = ctx.leadership.get(tp)
            if lice is None:
                ctx.partition_states[tp] = PartitionState.NEW
            elif ctx.is_replica_online(lice.leader_and_isr.leader):
                ctx.partition_states[tp] = PartitionState.ONLINE
            else:
                ctx.partition_states[tp] = PartitionState.OFFLINE
        await self.trigger_online_partition_state_change()

    async def trigger_online_partition_state_change(self, topic: str | None = None) -> None:
        """Elect leaders of every New and Offline partition (of ``topic``) not being deleted."""
        partitions = [
            tp
            for tp in self.ctx.partitions_in_states({PartitionState.OFFLINE, PartitionState.NEW}, topic)
            if not self.ctx.is_queued_for_deletion(tp.topic)
        ]
        await self.handle_state_changes(partitions, PartitionState.ONLINE, Strategy.OFFLINE)

    async def handle_state_changes(
        self, partitions: Iterable[TopicPartition], target: PartitionState, strategy: Strategy | None = None
    ) -> dict[TopicPartition, LeaderAndIsr | Exception]:
        partitions = list(partitions)
        if not partitions:
            return {}
        self.batch.new_batch()
        try:
            result = await self._do_handle_state_changes(partitions, target, strategy)
        except ControllerMovedError:
            self.batch.clear()
            raise
        except Exception as exc:
            log.exception("moving %d partitions to %s failed", len(partitions), target.value)
            result = dict.fromkeys(partitions, exc)
        self.batch.send(self.ctx.epoch)
        return result

    async def _do_handle_state_changes(
        self, partitions: list[TopicPartition], target: PartitionState, strategy: Strategy | None
    ) -> dict[TopicPartition, LeaderAndIsr | Exception]:
        ctx = self.ctx
        valid = []
        for tp in partitions:
            current = ctx.partition_state(tp)
            if valid_partition_change(current, target):
                valid.append(tp)
            else:
                log.error(
                    "partition %s-%d should be in one of %s before moving to %s; it is %s",
                    tp.topic,
                    tp.partition,
                    sorted(s.value for s in PARTITION_VALID_PREVIOUS[target]),
                    target.value,
                    current.value,
                )
        if target is not PartitionState.ONLINE:
            for tp in valid:
                ctx.partition_states[tp] = target
            return {}
        new = [tp for tp in valid if ctx.partition_state(tp) is PartitionState.NEW]
        to_elect = [tp for tp in valid if ctx.partition_state(tp) in (PartitionState.OFFLINE, PartitionState.ONLINE)]
        if new:
            for tp in await self._initialize_leader_and_isr(new):
                ctx.partition_states[tp] = PartitionState.ONLINE
        if not to_elect:
            return {}
        if strategy is None:
            raise ValueError("a strategy is needed to elect leaders")
        results = await self._elect_leaders(to_elect, strategy)
        for tp, r in results.items():
            if not isinstance(r, Exception):
                ctx.partition_states[tp] = PartitionState.ONLINE
        return results

    async def _initialize_leader_and_isr(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        ctx = self.ctx
        states = {}
        for tp in partitions:
            live = [r for r in ctx.replicas(tp) if ctx.is_replica_online(r)]
            if not live:
                log.error(
                    "cannot bring %s-%d online: none of its replicas %s is live (live brokers: %s)",
                    tp.topic,
                    tp.partition,
                    list(ctx.replicas(tp)),
                    sorted(ctx.live_broker_ids),
                )
                continue
            states[tp] = LeaderIsrAndControllerEpoch(LeaderAndIsr(live[0], 0, tuple(live)), ctx.epoch)
        if not states:
            return []
        created = await self.zk(self.zk.client.create_partition_states, states, ctx.epoch_zk_version)
        done = []
        for tp, result in created.items():
            if isinstance(result, Exception):
                log.error("cannot create the state of %s-%d: %r", tp.topic, tp.partition, result)
                continue
            lice = LeaderIsrAndControllerEpoch(result, ctx.epoch)
            ctx.leadership[tp] = lice
            self.batch.add_leader_and_isr(result.isr, tp, lice, ctx.full_assignment(tp), is_new=True)
            done.append(tp)
        return done

    async def _elect_leaders(
        self, partitions: list[TopicPartition], strategy: Strategy
    ) -> dict[TopicPartition, LeaderAndIsr | Exception]:
        finished: dict[TopicPartition, LeaderAndIsr | Exception] = {}
        remaining = partitions
        started = time.monotonic()
        while remaining:
            done, remaining = await self._elect_once(remaining, strategy)
            # one log line per kind of failure (a broker's 1,000 partitions are one line, not 1,000)
            failures: dict[str, tuple[Exception, list[str]]] = {}
            for tp, r in done.items():
                if isinstance(r, Exception):
                    failures.setdefault(type(r).__name__, (r, []))[1].append(f"{tp.topic}-{tp.partition}")
            for first, names in failures.values():
                shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                log.warning(
                    "no leader elected for %d partitions (%s): %s; e.g. %s", len(names), strategy.value, shown, first
                )
            finished.update(done)
            if remaining:
                log.info("electing leaders again (%s) for %d partitions", strategy.value, len(remaining))
        if self.stats is not None:
            self.stats.observe_ms(Histogram.LEADER_ELECTION, (time.monotonic() - started) * 1000)
        return finished

    async def _elect_once(
        self, partitions: list[TopicPartition], strategy: Strategy
    ) -> tuple[dict[TopicPartition, LeaderAndIsr | Exception], list[TopicPartition]]:
        ctx = self.ctx
        failed: dict[TopicPartition, LeaderAndIsr | Exception] = {}

        def malformed(exc: ZkDataError) -> None:
            log.error("malformed znode %s", exc)

        current = await self.zk(self.zk.client.get_partition_states, partitions, malformed)
        valid: list[tuple[TopicPartition, LeaderAndIsr]] = []
        for tp in partitions:
            lice = current.get(tp)
            if lice is None:
                failed[tp] = StateChangeFailed(f"no readable state in ZooKeeper for {tp.topic}-{tp.partition}")
            elif lice.controller_epoch > ctx.epoch:
                failed[tp] = StateChangeFailed(
                    f"the state of {tp.topic}-{tp.partition} was written by a newer controller "
                    f"(epoch {lice.controller_epoch} > {ctx.epoch})"
                )
            else:
                valid.append((tp, lice.leader_and_isr))
        if not valid:
            return failed, []
        results = await self._run_election(valid, strategy)
        elected = {}
        recipients = {}
        live = ctx.live_broker_ids
        old_isr = {tp: lai.isr for tp, lai in valid}
        unclean_possible = self.stats is not None and strategy is Strategy.OFFLINE
        for r in results:
            if r.leader_and_isr is None:
                failed[r.tp] = StateChangeFailed(f"no replica of {r.tp.topic}-{r.tp.partition} may lead")
            else:
                elected[r.tp] = r.leader_and_isr
                recipients[r.tp] = r.live_replicas
                if unclean_possible and not any(b in live for b in old_isr[r.tp]):
                    self.stats.count(Counter.UNCLEAN_LEADER_ELECTIONS)  # a leader from outside the ISR
        if not elected:
            return failed, []
        outcome = await self.zk(self.zk.client.update_leader_and_isr, elected, ctx.epoch, ctx.epoch_zk_version)
        for tp, r in outcome.finished.items():
            if isinstance(r, Exception):
                failed[tp] = r
                continue
            lice = LeaderIsrAndControllerEpoch(r, ctx.epoch)
            ctx.leadership[tp] = lice
            self.batch.add_leader_and_isr(recipients[tp], tp, lice, ctx.full_assignment(tp), is_new=False)
            failed[tp] = r
        return failed, list(outcome.to_retry)

    async def _run_election(
        self, states: list[tuple[TopicPartition, LeaderAndIsr]], strategy: Strategy
    ) -> list[election.ElectionResult]:
        ctx = self.ctx
        live = ctx.live_broker_ids
        if strategy is Strategy.OFFLINE:
            no_live_isr = {tp.topic for tp, lai in states if not any(r in live for r in lai.isr)}
            unclean = await self.unclean_allowed(no_live_isr) if no_live_isr else {}
            return [
                election.leader_for_offline(tp, ctx.replicas(tp), lai, live, unclean.get(tp.topic, False))
                for tp, lai in states
            ]
        if strategy is Strategy.CONTROLLED_SHUTDOWN:
            everyone = ctx.live_or_shutting_down_ids
            return [
                election.leader_for_controlled_shutdown(tp, ctx.replicas(tp), lai, everyone, ctx.shutting_down)
                for tp, lai in states
            ]
        return [election.leader_for_preferred_replica(tp, ctx.replicas(tp), lai, live) for tp, lai in states]
