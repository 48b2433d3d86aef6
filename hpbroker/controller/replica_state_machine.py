"""The replica state machine (Kafka's ZkReplicaStateMachine): moves replicas between the states
of states.py and gathers the requests that tell brokers.

- to New: a replica of a partition with a leader already gets LeaderAndIsr (is_new).
- to Online: a replica that was not New gets the partition's state (LeaderAndIsr).
- to Offline: StopReplica (no delete) to the replica's broker, and the replica leaves the ISR
  in ZooKeeper (a CAS on the state's zkVersion, fenced by the controller epoch): if it led, the
  partition has no leader (-1) until one is elected; the last ISR member stays in the ISR, so
  that no replica outside it can become leader without an unclean election. The partition's
  other replicas get the new state (LeaderAndIsr), every live broker an UpdateMetadata.
- to DeletionStarted: StopReplica(delete) to the replica's broker.
- DeletionIneligible, DeletionSuccessful: the state only; NonExistent: the replica leaves the
  partition's assignment.

Who may touch: the controller, while it processes one event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from hpbroker.cluster.zk_data import (
    NO_LEADER,
    LeaderAndIsr,
    LeaderIsrAndControllerEpoch,
    ReplicaAssignment,
    TopicPartition,
)
from hpbroker.cluster.zk_session import ControllerMovedError
from hpbroker.controller.context import ControllerContext, PartitionAndReplica
from hpbroker.controller.request_batch import RequestBatch
from hpbroker.controller.states import REPLICA_VALID_PREVIOUS, ReplicaState, valid_replica_change

log = logging.getLogger(__name__)


class ReplicaStateMachine:
    def __init__(self, controller_id: int, ctx: ControllerContext, zk, batch: RequestBatch):
        self.controller_id = controller_id
        self.ctx = ctx
        self.zk = zk  # an AsyncZk (cluster/async_zk.py)
        self.batch = batch

    async def startup(self) -> None:
        ctx = self.ctx
        for tp in ctx.all_partitions:
            for r in ctx.replicas(tp):
                pr = PartitionAndReplica(tp, r)
                # a replica on a dead broker cannot be deleted now: retried when it is back
                ctx.replica_states[pr] = (
                    ReplicaState.ONLINE if ctx.is_replica_online(r) else ReplicaState.DELETION_INELIGIBLE
                )
        online, offline = ctx.online_and_offline_replicas()
        await self.handle_state_changes(online, ReplicaState.ONLINE)
        await self.handle_state_changes(offline, ReplicaState.OFFLINE)

    async def handle_state_changes(self, replicas: Iterable[PartitionAndReplica], target: ReplicaState) -> None:
        replicas = list(replicas)
        if not replicas:
            return
        self.batch.new_batch()
        try:
            by_broker: dict[int, list[PartitionAndReplica]] = {}
            for pr in replicas:
                by_broker.setdefault(pr.replica, []).append(pr)
            for broker_id, prs in by_broker.items():
                await self._do_handle_state_changes(broker_id, prs, target)
        except ControllerMovedError:
            self.batch.clear()
            raise
        except Exception:
            log.exception("moving %d replicas to %s failed", len(replicas), target.value)
        self.batch.send(self.ctx.epoch)

    async def _do_handle_state_changes(
        self, broker_id: int, replicas: list[PartitionAndReplica], target: ReplicaState
    ) -> None:
        ctx = self.ctx
        valid = []
        for pr in replicas:
            current = ctx.replica_state(pr)
            if valid_replica_change(current, target):
                valid.append(pr)
            else:
                log.error(
                    "replica %d of %s-%d should be in one of %s before moving to %s; it is %s",
                    pr.replica,
                    pr.tp.topic,
                    pr.tp.partition,
                    sorted(s.value for s in REPLICA_VALID_PREVIOUS[target]),
                    target.value,
                    current.value,
                )
        if target is ReplicaState.NEW:
            for pr in valid:
                lice = ctx.leadership.get(pr.tp)
                if lice is not None:
                    if lice.leader_and_isr.leader == broker_id:
                        log.error("replica %d of %s-%d cannot be New: it leads", broker_id, *pr.tp)
                        continue
                    self.batch.add_leader_and_isr([broker_id], pr.tp, lice, ctx.full_assignment(pr.tp), is_new=True)
                ctx.replica_states[pr] = ReplicaState.NEW
        elif target is ReplicaState.ONLINE:
            for pr in valid:
                if ctx.replica_state(pr) is ReplicaState.NEW:
                    assignment = ctx.full_assignment(pr.tp)
                    if broker_id not in assignment.replicas:
                        ctx.set_assignment(
                            pr.tp,
                            ReplicaAssignment(
                                assignment.replicas + (broker_id,),
                                assignment.adding_replicas,
                                assignment.removing_replicas,
                            ),
                        )
                else:
                    lice = ctx.leadership.get(pr.tp)
                    if lice is not None:
                        self.batch.add_leader_and_isr(
                            [broker_id], pr.tp, lice, ctx.full_assignment(pr.tp), is_new=False
                        )
                ctx.replica_states[pr] = ReplicaState.ONLINE
        elif target is ReplicaState.OFFLINE:
            for pr in valid:
                self.batch.add_stop_replica([broker_id], pr.tp, delete=False)
            with_leader = [pr.tp for pr in valid if pr.tp in ctx.leadership]
            updated = await self._remove_from_isr(broker_id, with_leader)
            for tp, lice in updated.items():
                if not ctx.is_queued_for_deletion(tp.topic):
                    others = [r for r in ctx.replicas(tp) if r != broker_id]
                    self.batch.add_leader_and_isr(others, tp, lice, ctx.full_assignment(tp), is_new=False)
                ctx.replica_states[PartitionAndReplica(tp, broker_id)] = ReplicaState.OFFLINE
            for pr in valid:
                if pr.tp not in ctx.leadership:
                    self.batch.add_update_metadata(ctx.live_or_shutting_down_ids, [pr.tp])
                    ctx.replica_states[pr] = ReplicaState.OFFLINE
        elif target is ReplicaState.DELETION_STARTED:
            for pr in valid:
                ctx.replica_states[pr] = ReplicaState.DELETION_STARTED
                self.batch.add_stop_replica([broker_id], pr.tp, delete=True)
        elif target in (ReplicaState.DELETION_INELIGIBLE, ReplicaState.DELETION_SUCCESSFUL):
            for pr in valid:
                ctx.replica_states[pr] = target
        elif target is ReplicaState.NON_EXISTENT:
            for pr in valid:
                assignment = ctx.full_assignment(pr.tp)
                ctx.set_assignment(
                    pr.tp,
                    ReplicaAssignment(
                        tuple(r for r in assignment.replicas if r != pr.replica),
                        assignment.adding_replicas,
                        assignment.removing_replicas,
                    ),
                )
                ctx.replica_states.pop(pr, None)

    async def _remove_from_isr(
        self, replica: int, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, LeaderIsrAndControllerEpoch]:
        """Take ``replica`` out of these partitions' ISR in ZooKeeper (Kafka's
        removeReplicasFromIsr); the partitions' states afterwards (unchanged for those it was not
        in the ISR of)."""
        ctx = self.ctx
        results: dict[TopicPartition, LeaderIsrAndControllerEpoch] = {}
        remaining = partitions
        while remaining:
            current = await self.zk(self.zk.client.get_partition_states, remaining)
            to_write: dict[TopicPartition, LeaderAndIsr] = {}
            for tp in remaining:
                lice = current.get(tp)
                if lice is None:
                    if not ctx.is_queued_for_deletion(tp.topic):
                        log.error("cannot take replica %d out of the ISR of %s-%d: no state in ZooKeeper", replica, *tp)
                    continue
                if lice.controller_epoch > ctx.epoch:
                    log.error(
                        "the state of %s-%d was written by a newer controller (epoch %d): not changing it",
                        tp.topic,
                        tp.partition,
                        lice.controller_epoch,
                    )
                    continue
                lai = lice.leader_and_isr
                if replica not in lai.isr:
                    results[tp] = LeaderIsrAndControllerEpoch(lai, ctx.epoch)
                    ctx.leadership[tp] = results[tp]
                    continue
                leader = NO_LEADER if lai.leader == replica else lai.leader
                isr = lai.isr if len(lai.isr) == 1 else tuple(r for r in lai.isr if r != replica)
                to_write[tp] = lai.new_leader_and_isr(leader, isr)
            if not to_write:
                break
            outcome = await self.zk(self.zk.client.update_leader_and_isr, to_write, ctx.epoch, ctx.epoch_zk_version)
            for tp, r in outcome.finished.items():
                if isinstance(r, Exception):
                    log.error("cannot take replica %d out of the ISR of %s-%d: %r", replica, tp.topic, tp.partition, r)
                    continue
                results[tp] = LeaderIsrAndControllerEpoch(r, ctx.epoch)
                ctx.leadership[tp] = results[tp]
            remaining = list(outcome.to_retry)
        return results
