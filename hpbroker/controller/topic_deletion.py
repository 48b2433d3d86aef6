"""Topic deletion (Kafka's TopicDeletionManager).

A topic is marked for deletion by creating /admin/delete_topics/<t> (DeleteTopics, on any
broker); the controller, watching that path, queues it. Then:

1. Every live broker gets an UpdateMetadata whose partitions of the topic have leader -2: they
   forget it at once (clients see it gone; DeleteTopics completes when the asking broker does).
2. Its partitions go Offline then NonExistent; its replicas on live brokers go Offline (StopReplica
   without delete) then DeletionStarted (StopReplica with delete); replicas on dead brokers go
   DeletionIneligible, and the topic waits.
3. Each StopReplica answer moves the replicas it deleted to DeletionSuccessful, those that failed
   to DeletionIneligible (tried again).
4. When every replica is DeletionSuccessful: the assignment, the partition states, the topic's
   config and the deletion mark are removed from ZooKeeper, and the topic from the controller.

A topic waiting for a dead broker's replica resumes when that broker registers again. With
``delete.topic.enable=false`` the marks are removed and nothing is deleted.

Who may touch: the controller, while it processes one event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from hpbroker.controller.context import ControllerContext, PartitionAndReplica
from hpbroker.controller.partition_state_machine import PartitionStateMachine
from hpbroker.controller.replica_state_machine import ReplicaStateMachine
from hpbroker.controller.request_batch import RequestBatch
from hpbroker.controller.states import PartitionState, ReplicaState

log = logging.getLogger(__name__)


class TopicDeletionManager:
    def __init__(
        self,
        ctx: ControllerContext,
        zk,
        batch: RequestBatch,
        psm: PartitionStateMachine,
        rsm: ReplicaStateMachine,
        enabled: bool,
    ):
        self.ctx = ctx
        self.zk = zk  # an AsyncZk (cluster/async_zk.py)
        self.batch = batch
        self.psm = psm
        self.rsm = rsm
        self.enabled = enabled

    async def init(self, to_delete: set[str], ineligible: set[str]) -> None:
        if self.enabled:
            self.ctx.queue_topic_deletion(to_delete)
            self.ctx.topics_ineligible_for_deletion |= ineligible & self.ctx.topics_to_be_deleted
        elif to_delete:
            log.info("removing the deletion marks of %s: delete.topic.enable is false", sorted(to_delete))
            await self.zk(self.zk.client.delete_topic_deletions, sorted(to_delete), self.ctx.epoch_zk_version)

    async def enqueue(self, topics: set[str]) -> None:
        if self.enabled:
            self.ctx.queue_topic_deletion(topics)
            await self.resume_deletions()

    async def resume_for_topics(self, topics: set[str]) -> None:
        if self.enabled:
            resumed = topics & self.ctx.topics_to_be_deleted
            if resumed:
                self.ctx.topics_ineligible_for_deletion -= resumed
                await self.resume_deletions()

    async def fail_replica_deletion(self, replicas: Iterable[PartitionAndReplica]) -> None:
        if not self.enabled:
            return
        failed = [pr for pr in replicas if self.ctx.is_queued_for_deletion(pr.tp.topic)]
        if failed:
            topics = {pr.tp.topic for pr in failed}
            log.info("deleting replicas %s failed: halting the deletion of %s", _names(failed), sorted(topics))
            await self.rsm.handle_state_changes(failed, ReplicaState.DELETION_INELIGIBLE)
            self.mark_ineligible(topics, "replica deletion failure")
            await self.resume_deletions()

    async def complete_replica_deletion(self, replicas: Iterable[PartitionAndReplica]) -> None:
        done = [pr for pr in replicas if self.ctx.is_queued_for_deletion(pr.tp.topic)]
        await self.rsm.handle_state_changes(done, ReplicaState.DELETION_SUCCESSFUL)
        await self.resume_deletions()

    def mark_ineligible(self, topics: set[str], reason: str) -> None:
        if self.enabled:
            halted = self.ctx.topics_to_be_deleted & topics
            self.ctx.topics_ineligible_for_deletion |= halted
            if halted:
                log.info("deletion of %s halted: %s", sorted(halted), reason)

    def _eligible(self, topic: str) -> bool:
        ctx = self.ctx
        return (
            ctx.is_queued_for_deletion(topic)
            and not ctx.is_any_replica_in_state(topic, ReplicaState.DELETION_STARTED)
            and topic not in ctx.topics_ineligible_for_deletion
        )

    async def resume_deletions(self) -> None:
        ctx = self.ctx
        queued = set(ctx.topics_to_be_deleted)
        if queued:
            log.info("handling the deletion of topics %s", sorted(queued))
        retry, start = set(), set()
        for topic in sorted(queued):
            if ctx.are_all_replicas_in_state(topic, ReplicaState.DELETION_SUCCESSFUL):
                await self._complete_delete_topic(topic)
                log.info("deletion of topic %s completed", topic)
                continue
            if not ctx.is_any_replica_in_state(topic, ReplicaState.DELETION_STARTED) and ctx.is_any_replica_in_state(
                topic, ReplicaState.DELETION_INELIGIBLE
            ):
                retry.add(topic)
            if self._eligible(topic):
                log.info("deletion of topic %s (re)started", topic)
                start.add(topic)
        if retry:
            failed = [pr for t in retry for pr in ctx.replicas_in_state(t, ReplicaState.DELETION_INELIGIBLE)]
            await self.rsm.handle_state_changes(failed, ReplicaState.OFFLINE)
        if start:
            await self._on_topic_deletion(start)

    async def _complete_delete_topic(self, topic: str) -> None:
        ctx = self.ctx
        await self.rsm.handle_state_changes(
            ctx.replicas_in_state(topic, ReplicaState.DELETION_SUCCESSFUL), ReplicaState.NON_EXISTENT
        )
        fence = ctx.epoch_zk_version
        await self.zk(self.zk.client.delete_topic, topic, fence)
        await self.zk(self.zk.client.delete_topic_configs, [topic], fence)
        await self.zk(self.zk.client.delete_topic_deletions, [topic], fence)
        ctx.remove_topic(topic)

    async def _on_topic_deletion(self, topics: set[str]) -> None:
        ctx = self.ctx
        unseen = topics - ctx.topics_with_deletion_started
        if unseen:
            partitions = [tp for t in sorted(unseen) for tp in ctx.partitions_for_topic(t)]
            await self.psm.handle_state_changes(partitions, PartitionState.OFFLINE)
            await self.psm.handle_state_changes(partitions, PartitionState.NON_EXISTENT)
            ctx.topics_with_deletion_started |= unseen
        # brokers forget the topic now (its partitions with leader -2)
        self.batch.new_batch()
        self.batch.add_update_metadata(
            ctx.live_or_shutting_down_ids, [tp for t in sorted(topics) for tp in ctx.partitions_for_topic(t)]
        )
        self.batch.send(ctx.epoch)
        await self._on_partition_deletion(topics)

    async def _on_partition_deletion(self, topics: set[str]) -> None:
        ctx = self.ctx
        dead, retry, ineligible = [], [], set()
        for topic in sorted(topics):
            done = set(ctx.replicas_in_state(topic, ReplicaState.DELETION_SUCCESSFUL))
            for pr in ctx.replicas_for_topic(topic):
                if not ctx.is_replica_online(pr.replica):
                    dead.append(pr)
                    ineligible.add(topic)
                elif pr not in done:
                    retry.append(pr)
        await self.rsm.handle_state_changes(dead, ReplicaState.DELETION_INELIGIBLE)
        await self.rsm.handle_state_changes(retry, ReplicaState.OFFLINE)
        await self.rsm.handle_state_changes(retry, ReplicaState.DELETION_STARTED)
        if ineligible:
            self.mark_ineligible(ineligible, "offline replicas")


def _names(replicas: list[PartitionAndReplica]) -> str:
    return ", ".join(f"{pr.tp.topic}-{pr.tp.partition}@{pr.replica}" for pr in replicas)
