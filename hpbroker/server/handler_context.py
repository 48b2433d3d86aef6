"""BrokerContext of a handler process: the partitions this handler owns, published to processors.

On top of BrokerContext (which already restricts itself to ``owns``) it
- claims a row of the shared partition table for each partition it opens and publishes
  log_start_offset / high_watermark / log_end_offset there after every append, so processors
  serve Fetch from the segment files up to what is really written;
- as controller (handler 0) marks the metadata dirty when the topic registry changes; the
  handler process then bumps the metadata generation and waits for the others to apply it;
- as any other handler applies a new registry (``sync_topics``): opens partitions it now owns,
  deletes the logs of deleted topics, updates topic configs.

Who may touch: the event loop of this handler process only.
"""
from __future__ import annotations

import contextlib
import logging

from hpbroker.handlers.context import BrokerContext, log_config_for
from hpbroker.metadata.topics import TopicRegistry
from hpbroker.server.routing import CONTROLLER_HANDLER

log = logging.getLogger(__name__)


class HandlerContext(BrokerContext):
    def __init__(self, config, node, *, handler: int, table, owns, read_registry=None):
        self.handler = handler
        self.table = table
        # the controller's published registry (Topology.read_registry); the file without one
        self._read_registry = read_registry or TopicRegistry
        self.rows: dict[tuple[str, int], int] = {}
        self.metadata_dirty = False
        self.appended = False  # since the handler process last told processors with parked Fetches
        table.clear(handler)  # rows of a previous incarnation describe logs not yet recovered
        super().__init__(config, node, owns=owns)
        self.creates_topics = handler == CONTROLLER_HANDLER  # the registry has one writer

    # the partition table ----------------------------------------------------------------------
    def _open_partitions(self, topic, indexes) -> None:
        super()._open_partitions(topic, indexes)
        for i in indexes:
            key = (topic.name, i)
            if key in self.partitions and key not in self.rows:
                row = self.table.claim(self.handler, topic.topic_id, i)
                if row is None:
                    log.error("partition table full: %s-%d is not readable by processors", *key)
                    continue
                self.rows[key] = row
                self.publish(topic.name, i)

    def _drop_partition(self, topic: str, index: int) -> None:
        self._forget_partition(topic, index)
        super()._drop_partition(topic, index)

    def publish(self, topic: str, index: int) -> None:
        row = self.rows.get((topic, index))
        p = self.partitions.get((topic, index))
        if row is not None and p is not None:
            self.table.publish(row, p.log_start_offset, p.high_watermark, p.log_end_offset, p.leader_epoch)

    def publish_all(self) -> None:
        for topic, index in list(self.rows):
            self.publish(topic, index)

    def _forget_partition(self, topic: str, index: int) -> None:
        row = self.rows.pop((topic, index), None)
        if row is not None:
            self.table.free(row)

    def notify_append(self, topic: str, index: int) -> None:
        self.publish(topic, index)
        self.appended = True
        super().notify_append(topic, index)

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

    # registry changes (controller) ------------------------------------------------------------
    def create_topic(self, name, num_partitions, configs):
        self.metadata_dirty = True
        return super().create_topic(name, num_partitions, configs)

    def delete_topic(self, name):
        self.metadata_dirty = True
        info = self.topics.get(name)
        if info is not None:
            for i in range(info.num_partitions):
                self._forget_partition(name, i)
        super().delete_topic(name)

    def add_partitions(self, name, count):
        self.metadata_dirty = True
        super().add_partitions(name, count)

    def set_topic_configs(self, name, configs):
        self.metadata_dirty = True
        super().set_topic_configs(name, configs)

    def set_broker_dynamic_configs(self, configs, cluster_default=False):
        self.metadata_dirty = True
        super().set_broker_dynamic_configs(configs, cluster_default)

    # registry changes (every other handler) ---------------------------------------------------
    def sync_topics(self) -> None:
        """Apply the registry the controller published: it is the truth for topics and configs."""
        new = self._read_registry(self.topics.path)
        old = self.topics
        for (name, index) in list(self.partitions):
            info, before = new.get(name), old.get(name)
            gone = info is None or index >= info.num_partitions or (
                before is not None and before.topic_id != info.topic_id)
            if gone:
                self._forget_partition(name, index)
                self.partitions.pop((name, index), None)
                self.logs.delete(name, index)
                self.fetch_purgatory.notify((name, index))
        self.topics = new
        self.config.follow(new.broker_configs, new.broker_default_configs)
        for info in new:
            missing = [i for i in range(info.num_partitions)
                       if self.owns(info.name, i) and (info.name, i) not in self.partitions]
            if missing:
                self._open_partitions(info, missing)
            lc = log_config_for(self.effective_topic_config(info))
            for i in range(info.num_partitions):
                p = self.partitions.get((info.name, i))
                if p is not None:
                    p.log.config = lc
