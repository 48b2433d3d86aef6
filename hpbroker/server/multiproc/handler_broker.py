"""The broker of a handler process: the partitions this handler owns, published to processors.

A ``LocalBroker`` restricted to ``owns`` (the partitions that hash to this handler), whose
replica manager also
- claims a row of the shared partition table for each partition it opens and publishes
  log_start_offset / high_watermark / log_end_offset there after every append, so processors
  serve Fetch from the segment files up to what is really written;
- brackets the log cleaner's file moves with the row's rewrite counter.

Handler 0 is the node's controller (``LocalController``): after a request changed the topic
registry (``controller.changed``) the handler process publishes the registry and waits for the
other handlers to apply it. Every other handler is not the controller (``NotController``) and
applies each registry the controller published (``sync_topics``): opens partitions it now owns,
deletes the logs of deleted topics, updates topic configs.

Who may touch: the event loop of this handler process only.
"""

from __future__ import annotations

import contextlib
import logging

from hpbroker.broker.local import LocalBroker
from hpbroker.metadata.topics import TopicRegistry
from hpbroker.replication.replica_manager import LocalReplicaManager
from hpbroker.server.multiproc.routing import CONTROLLER_HANDLER, owner

log = logging.getLogger(__name__)


class PublishingReplicaManager(LocalReplicaManager):
    """A handler's replica manager: every partition it holds has a row in the partition table."""

    def __init__(self, config, log_dirs, metadata, owns, *, handler: int, table, **kwargs):
        self.handler = handler
        self.table = table
        self.rows: dict[tuple[str, int], int] = {}
        self.appended = False  # since the handler process last told processors with parked Fetches
        table.clear(handler)  # rows of a previous incarnation describe logs not yet recovered
        super().__init__(config, log_dirs, metadata, owns, **kwargs)

    def open_partitions(self, topic, indexes) -> None:
        super().open_partitions(topic, indexes)
        for i in indexes:
            key = (topic.name, i)
            if key in self.partitions and key not in self.rows:
                row = self.table.claim(self.handler, topic.topic_id, i)
                if row is None:
                    log.error("partition table full: %s-%d is not readable by processors", *key)
                    continue
                self.rows[key] = row
                self.publish(topic.name, i)

    def drop_partition(self, name: str, index: int) -> None:
        self._forget_row(name, index)
        super().drop_partition(name, index)

    def remove_partition(self, name: str, index: int) -> None:
        self._forget_row(name, index)
        super().remove_partition(name, index)

    def publish(self, topic: str, index: int) -> None:
        row = self.rows.get((topic, index))
        p = self.partitions.get((topic, index))
        if row is not None and p is not None:
            self.table.publish(
                row, p.log_start_offset, p.high_watermark, p.log_end_offset, p.leader_epoch, p.last_stable_offset
            )

    def publish_all(self) -> None:
        for topic, index in list(self.rows):
            self.publish(topic, index)

    def _forget_row(self, topic: str, index: int) -> None:
        row = self.rows.pop((topic, index), None)
        if row is not None:
            self.table.free(row)

    def high_watermark_of(self, topic: str, index: int) -> int | None:
        """Of a partition of this handler, or of another handler's as it published it."""
        p = self.partitions.get((topic, index))
        if p is not None:
            return p.high_watermark
        info = self.metadata.topic(topic)
        if info is None:
            return None
        row = self.table.find(owner(topic, index, self.table.handlers), info.topic_id, index)
        return None if row is None else self.table.read(row)[2]

    def notify_append(self, topic: str, index: int) -> None:
        self.publish(topic, index)
        self.appended = True
        super().notify_append(topic, index)

    def notify_high_watermark(self, topic: str, index: int) -> None:
        """In a cluster the HW moves when a follower's Fetch or an ISR change lets it: processors
        serve consumers up to the row's HW, and their parked Fetches are woken."""
        self.publish(topic, index)
        self.appended = True
        super().notify_high_watermark(topic, index)

    def run_maintenance(self) -> None:
        super().run_maintenance()
        self.publish_all()  # retention moves log_start_offset

    @contextlib.contextmanager
    def rewriting(self, topic: str, index: int):
        """The log cleaner moves this partition's segment files: processors reading it keep
        off them meanwhile and drop what they hold afterwards (the table's rewrite counter)."""
        row = self.rows.get((topic, index))
        if row is None:
            yield
            return
        self.table.begin_rewrite(row)
        try:
            yield
        finally:
            self.table.end_rewrite(row)


class HandlerBroker(LocalBroker):
    replica_manager: PublishingReplicaManager

    def __init__(self, config, node, *, handler: int, table, owns, read_registry=None, stats=None):
        self.handler = handler
        self.table = table
        # the controller's published registry (Topology.read_registry); the file without one
        self._read_registry = read_registry or TopicRegistry
        super().__init__(config, node, owns=owns, controller=handler == CONTROLLER_HANDLER, stats=stats)

    def _replica_manager(self, owns) -> PublishingReplicaManager:
        return PublishingReplicaManager(
            self.config, self.log_dirs, self.metadata, owns, handler=self.handler, table=self.table
        )

    def describe(self) -> str:
        return f"handler {self.handler}"

    def sync_topics(self) -> None:
        """Apply the registry the controller published: it is the truth for topics and configs."""
        old = self.metadata.topics
        new = self._read_registry(old.path)
        self.metadata.update(new)
        self.config.follow(new.broker_configs, new.broker_default_configs)
        self.replica_manager.apply_metadata(old, new)
        self.expire_security()  # the change may have been to ACLs or credentials
