"""LocalReplicaManager: the partitions this process holds, their logs, and what keeps them.

Kafka's ReplicaManager (with its LogManager): it opens the partitions of the topics the
metadata names (only those ``owns(topic, partition)`` allows: in the multi-process topology a
handler process holds the partitions that hash to it, in the in-process one every partition),
gives handlers the ``Partition`` objects they append to and read from, keeps the topic configs
in force on each log, wakes parked Fetches after appends (the fetch purgatory) and parked
acks=all Produces and Fetches when a high watermark moves (``notify_high_watermark``), and runs
the logs' maintenance: retention, roll, flush, and the log cleaner's scheduling.

The controller changes what it holds through ``open_or_undo`` (a new topic or more
partitions), ``remove_partition`` (a deleted topic) and ``apply_topic_configs``; a process
that is not the controller applies the registry the controller published with
``apply_metadata``.

Who may touch: the event loop of the process that owns these partitions (in-process mode: the
only process).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping

from hpbroker.broker.metadata_cache import MetadataCache
from hpbroker.metadata.topic_configs import ProduceSettings, TopicConfigCache
from hpbroker.metadata.topics import TopicInfo, TopicRegistry
from hpbroker.protocol.errors import ErrorCode
from hpbroker.replication.log_cleaner import LogCleaner
from hpbroker.replication.partition import Partition
from hpbroker.replication.purgatory import Purgatory
from hpbroker.storage import LogManager

log = logging.getLogger(__name__)


def _every_partition(topic: str, partition: int) -> bool:
    return True


class LocalReplicaManager:
    def __init__(self, config, log_dirs: list[str], metadata: MetadataCache, owns=None):
        self.config = config
        self.metadata = metadata
        self.owns = owns or _every_partition
        self.topic_configs = TopicConfigCache(config)
        self.logs = LogManager(log_dirs, self.topic_configs.defaults(), partition_filter=self.owns)
        self.partitions: dict[tuple[str, int], Partition] = {}
        self.fetch_purgatory = Purgatory()
        #: acks=all Produces waiting for the high watermark, keyed by (topic, partition)
        self.produce_purgatory = Purgatory()
        self.cleaner = LogCleaner(config, self.logs, rewriting=self.rewriting)
        self.open_registered(metadata)

    def open_registered(self, metadata: MetadataCache) -> None:
        """At start-up: open (and recover) the partitions of every registered topic, and delete
        the logs of topics the registry no longer has (a delete that crashed half-way)."""
        self.logs.load({t.name: self.topic_configs.log_config(t) for t in metadata.topics})
        for topic in metadata.topics:
            self.open_partitions(topic, range(topic.num_partitions))
        for (t, p), _ in list(self.logs.logs()):
            info = metadata.topics.get(t)
            if info is None or p >= info.num_partitions:
                log.warning("deleting orphan partition log %s-%d (topic deleted before a crash)", t, p)
                self.logs.delete(t, p)

    # what handlers ask ----------------------------------------------------------------------
    def partition(self, topic: str, index: int) -> Partition | None:
        return self.partitions.get((topic, index))

    def readable(self, topic: str, index: int) -> Partition | None:
        return self.partitions.get((topic, index))

    def not_led_error(self, topic: str, index: int) -> int:
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION

    def topic_config(self, info: TopicInfo) -> Mapping[str, str]:
        return self.topic_configs.effective(info)

    def produce_settings(self, info: TopicInfo) -> ProduceSettings:
        return self.topic_configs.produce_settings(info)

    def notify_append(self, topic: str, index: int) -> None:
        self.fetch_purgatory.notify((topic, index))

    def notify_high_watermark(self, topic: str, index: int) -> None:
        """The partition's HW moved (or its leadership changed): parked acks=all Produces and
        consumer Fetches look again."""
        key = (topic, index)
        self.produce_purgatory.notify(key)
        self.fetch_purgatory.notify(key)

    def replica_partition(self, topic: str, index: int) -> Partition | None:
        """The partition a follower may fetch from here (Fetch with a replica id): one this
        broker leads."""
        p = self.partitions.get((topic, index))
        return p if p is not None and p.is_leader else None

    def record_follower_fetch(self, partition: Partition, replica_id: int, fetch_offset: int, log_start: int) -> None:
        """A follower fetched ``partition`` from ``fetch_offset``: nothing to track on a single node."""

    def high_watermark_of(self, topic: str, index: int) -> int | None:
        """The high watermark of a partition of this node (the coordinators' consumer lag)."""
        p = self.partitions.get((topic, index))
        return None if p is None else p.high_watermark

    # what the controller changes --------------------------------------------------------------
    def open_partitions(self, topic: TopicInfo, indexes) -> None:
        """Open (creating if new) the logs of ``topic``'s partitions ``indexes`` this process owns."""
        lc = self.topic_configs.log_config(topic)
        for i in indexes:
            if not self.owns(topic.name, i):
                continue
            plog = self.logs.get_or_create(topic.name, i, lc)
            self.partitions[(topic.name, i)] = Partition(topic.name, i, plog)

    def open_or_undo(self, info: TopicInfo, indexes, register) -> None:
        """Open the partitions, then ``register()`` the change: the registry is the commit point.
        If either cannot be written (a full disk: OSError), whatever was opened is removed again
        and the OSError raised, so the change does not half exist until a restart."""
        indexes = list(indexes)
        try:
            self.open_partitions(info, indexes)
            register()
        except OSError:
            for i in indexes:
                self.drop_partition(info.name, i)
            raise

    def drop_partition(self, name: str, index: int) -> None:
        """Close and delete a partition this process opened for a change that did not happen."""
        self.partitions.pop((name, index), None)
        self.logs.delete(name, index)

    def remove_partition(self, name: str, index: int) -> None:
        """The partition is gone (its topic deleted): delete its log; parked Fetches of it
        wake and answer UNKNOWN_TOPIC_OR_PARTITION."""
        self.partitions.pop((name, index), None)
        self.logs.delete(name, index)
        self.fetch_purgatory.notify((name, index))

    def forget_topic(self, name: str) -> None:
        self.topic_configs.forget(name)

    def apply_topic_configs(self, info: TopicInfo) -> None:
        """Push the topic's configs in force to the logs of its partitions held here."""
        lc = self.topic_configs.log_config(info)
        for i in range(info.num_partitions):
            p = self.partitions.get((info.name, i))
            if p is not None:
                p.log.config = lc

    def apply_metadata(self, old: TopicRegistry, new: TopicRegistry) -> None:
        """Hold what the registry ``new`` (which replaced ``old``) says: delete the partitions
        of deleted (or re-created) topics, open the owned partitions not open yet, push the
        configs. A failure to open (OSError) leaves what is open; calling again resumes."""
        for name, index in list(self.partitions):
            info, before = new.get(name), old.get(name)
            if (
                info is None
                or index >= info.num_partitions
                or (before is not None and before.topic_id != info.topic_id)
            ):
                self.remove_partition(name, index)
        for info in new:
            missing = [
                i
                for i in range(info.num_partitions)
                if self.owns(info.name, i) and (info.name, i) not in self.partitions
            ]
            if missing:
                self.open_partitions(info, missing)
            self.apply_topic_configs(info)

    # upkeep -----------------------------------------------------------------------------------
    def run_maintenance(self) -> None:
        self.logs.run_maintenance()
        for p in self.partitions.values():
            if p.log.log_start_offset > p.high_watermark:  # retention cannot pass the HW
                p.log.high_watermark = p.log.log_start_offset
        self.cleaner.run()

    def rewriting(self, topic: str, index: int):
        """Brackets the cleaner's file moves of a partition; nothing to do when all reads are
        here (a handler process tells the processors: server/multiproc/handler_broker.py)."""
        return contextlib.nullcontext()

    def close(self) -> None:
        self.cleaner.stop()
        for p in self.partitions.values():  # a restart then replays only what comes after them
            try:
                p.write_producer_snapshot()
            except OSError:
                log.exception("writing the producer snapshot of %s-%d failed", p.topic, p.index)
        self.logs.close()
