"""What request handlers work with: the node's config, topics and the partitions it leads.

``BrokerContext`` plays the part of Kafka's ReplicaManager + single-node controller: it turns
topic operations (create, delete, add partitions, alter configs) into registry changes and
partition logs, and gives handlers the ``Partition`` objects they append to and read from.

With ``owns`` (multi-process mode: a handler process), only the partitions for which
``owns(topic, partition)`` is true are opened, appended to, deleted and maintained here; every
other partition belongs to another handler. In-process mode owns them all.

Who may touch: the event loop of the process that owns these partitions (in-process mode: the
only process).
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, NamedTuple

from hpbroker.config import TOPIC_CONFIGS, BrokerConfig
from hpbroker.metadata.topics import INTERNAL_TOPICS, TopicInfo, TopicRegistry
from hpbroker.records.compression import NAMES as CODEC_NAMES
from hpbroker.records.layout import NO_COMPRESSION
from hpbroker.replication.partition import Partition
from hpbroker.replication.purgatory import Purgatory
from hpbroker.storage import LogConfig, LogManager
from hpbroker.storage import cleaner, swap
from hpbroker.storage.cleaner import CleanResult, dirtiness
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)

_MAX_LONG = 9223372036854775807


@dataclass(frozen=True)
class Node:
    node_id: int
    host: str
    port: int


class ProduceSettings(NamedTuple):
    """The topic configs a Produce checks every batch against, parsed once per config change."""
    max_message_bytes: int
    log_append_time: bool
    min_insync_replicas: int
    timestamp_before_ms: int | None  # None: no bound (Long.MAX_VALUE)
    timestamp_after_ms: int | None
    keys_required: bool = False  # cleanup.policy has compact: every record needs a key
    #: compression.type: the codec batches are stored with (0 none ... 4 zstd), or None for
    #: "producer" (stored as sent)
    target_codec: int | None = None
    target_level: int | None = None  # compression.<codec>.level of that codec (None: default)


#: compression.type -> the codec the broker stores batches with ("producer": as sent)
TARGET_CODECS = {"producer": None, "uncompressed": NO_COMPRESSION,
                 **{name: codec for codec, name in CODEC_NAMES.items() if codec != NO_COMPRESSION}}


def _policies(effective: Mapping[str, str]) -> list[str]:
    return [p.strip() for p in TOPIC_CONFIGS["cleanup.policy"].parse(effective["cleanup.policy"]).split(",")]


def produce_settings_for(effective: Mapping[str, str]) -> ProduceSettings:
    # the deprecated message.timestamp.difference.max.ms is the limit of each of these left at its
    # default, as Kafka 3.x applies it (LogConfig.getMessageTimestampBeforeMaxMs)
    difference = int(effective["message.timestamp.difference.max.ms"])
    before = int(effective["message.timestamp.before.max.ms"])
    after = int(effective["message.timestamp.after.max.ms"])
    before, after = (difference if v == _MAX_LONG else v for v in (before, after))
    return ProduceSettings(
        max_message_bytes=int(effective["max.message.bytes"]),
        log_append_time=effective["message.timestamp.type"] == "LogAppendTime",
        min_insync_replicas=int(effective["min.insync.replicas"]),
        timestamp_before_ms=None if before >= _MAX_LONG else before,
        timestamp_after_ms=None if after >= _MAX_LONG else after,
        keys_required="compact" in _policies(effective),
        target_codec=TARGET_CODECS[effective["compression.type"]],
        target_level=_level(effective),
    )


def _level(effective: Mapping[str, str]) -> int | None:
    name = {"gzip": "compression.gzip.level", "lz4": "compression.lz4.level",
            "zstd": "compression.zstd.level"}.get(effective["compression.type"])
    return None if name is None else int(TOPIC_CONFIGS[name].parse(effective[name]))


class _TopicConfigEntry(NamedTuple):
    # What the entry was computed from, compared by identity (TopicRegistry replaces a
    # topic's config dict on every change and a re-created topic is a new TopicInfo) and by
    # the broker config's generation (bumped by every dynamic change).
    topic: TopicInfo
    overrides: dict
    generation: int
    effective: Mapping[str, str]
    produce: ProduceSettings


def log_config_for(effective: Mapping[str, str]) -> LogConfig:
    """Storage settings of a topic from its effective (Kafka-named) topic configs."""
    def num(name):
        return int(TOPIC_CONFIGS[name].parse(effective[name]))

    flush_messages = num("flush.messages")
    flush_ms = num("flush.ms")
    return LogConfig(
        segment_bytes=num("segment.bytes"),
        segment_ms=num("segment.ms"),
        segment_index_bytes=num("segment.index.bytes"),
        index_interval_bytes=num("index.interval.bytes"),
        retention_ms=num("retention.ms"),
        retention_bytes=num("retention.bytes"),
        flush_messages=None if flush_messages >= _MAX_LONG else flush_messages,
        flush_ms=None if flush_ms >= _MAX_LONG else flush_ms,
        cleanup_delete="delete" in _policies(effective),
        cleanup_compact="compact" in _policies(effective),
        delete_retention_ms=num("delete.retention.ms"),
        min_cleanable_dirty_ratio=float(TOPIC_CONFIGS["min.cleanable.dirty.ratio"].parse(
            effective["min.cleanable.dirty.ratio"])),
        min_compaction_lag_ms=num("min.compaction.lag.ms"),
        max_compaction_lag_ms=num("max.compaction.lag.ms"),
    )


class BrokerContext:
    def __init__(self, config: BrokerConfig, node: Node, cluster_id: str = "hpbroker-cluster", owns=None):
        self.config = config
        self.owns = owns or (lambda topic, partition: True)
        self.node = node
        self.cluster_id = cluster_id
        self.log_dirs = [d for d in config.get("log.dirs").split(",") if d]
        for d in self.log_dirs:
            Path(d).mkdir(parents=True, exist_ok=True)
        self.topics = TopicRegistry(Path(self.log_dirs[0]) / "__topics.json")
        config.follow(self.topics.broker_configs, self.topics.broker_default_configs)
        # Effective topic configs by topic name. Building one merges every topic config with
        # the broker's defaults (~10 us); Produce needs it for every topic of every request.
        self._topic_configs: dict[str, _TopicConfigEntry] = {}
        self.logs = LogManager(self.log_dirs, log_config_for(config.effective_topic_config({})),
                               partition_filter=self.owns)
        self.logs.load({t.name: log_config_for(self.effective_topic_config(t)) for t in self.topics})
        self.partitions: dict[tuple[str, int], Partition] = {}
        self.fetch_purgatory = Purgatory()
        self.group_coordinator = None  # hpbroker.coordinator GroupCoordinator, made on first group request
        self.creates_topics = True  # in multi-process mode only the controller handler does
        self._cleaner_next_check = 0  # ms: when run_cleaner looks for a dirty compacted log next
        self._cleaner_pool: ThreadPoolExecutor | None = None  # the cleaner thread, made on first use
        self._cleaning = None  # (CleanPass, Future of its build, (topic, index)) while one is built
        self._next_producer_id = int(time.time() * 1000) << 8  # unique across restarts of one node
        for topic in self.topics:
            self._open_partitions(topic, range(topic.num_partitions))
        # logs left behind by a delete that crashed half-way
        for (t, p) in list(self._log_keys()):
            info = self.topics.get(t)
            if info is None or p >= info.num_partitions:
                log.warning("deleting orphan partition log %s-%d (topic deleted before a crash)", t, p)
                self.logs.delete(t, p)

    # topics --------------------------------------------------------------------------------
    def _log_keys(self):
        return [tp for tp, _ in self.logs.logs()]

    def _topic_config_entry(self, topic: TopicInfo) -> _TopicConfigEntry:
        entry = self._topic_configs.get(topic.name)
        if (entry is None or entry.topic is not topic or entry.overrides is not topic.configs
                or entry.generation != self.config.generation):
            effective = MappingProxyType(self.config.effective_topic_config(topic.configs))
            entry = _TopicConfigEntry(topic, topic.configs, self.config.generation, effective,
                                      produce_settings_for(effective))
            self._topic_configs[topic.name] = entry
        return entry

    def effective_topic_config(self, topic: TopicInfo) -> Mapping[str, str]:
        """Every topic config of ``topic`` (its overrides over the broker's defaults), read-only
        and cached until the topic's overrides or the broker's dynamic configs change."""
        return self._topic_config_entry(topic).effective

    def produce_settings(self, topic: TopicInfo) -> ProduceSettings:
        return self._topic_config_entry(topic).produce

    def topic_config_value(self, topic: TopicInfo, name: str):
        return TOPIC_CONFIGS[name].parse(self.effective_topic_config(topic)[name])

    def _open_partitions(self, topic: TopicInfo, indexes) -> None:
        lc = log_config_for(self.effective_topic_config(topic))
        for i in indexes:
            if not self.owns(topic.name, i):
                continue
            plog = self.logs.get_or_create(topic.name, i, lc)
            self.partitions[(topic.name, i)] = Partition(topic.name, i, plog)

    def create_topic(self, name: str, num_partitions: int, configs: dict[str, str]) -> TopicInfo:
        """Open the topic's partitions, then register it: the registry is the commit point. If
        either cannot be written (a full disk: OSError), whatever was opened is removed again
        and nothing is registered, so the topic does not half exist until a restart."""
        info = self.topics.new_topic(name, num_partitions, configs)
        self._open_or_undo(info, range(num_partitions), lambda: self.topics.add(info))
        return info

    def _open_or_undo(self, info: TopicInfo, indexes, register) -> None:
        indexes = list(indexes)
        try:
            self._open_partitions(info, indexes)
            register()
        except OSError:
            for i in indexes:
                self._drop_partition(info.name, i)
            raise

    def _drop_partition(self, name: str, index: int) -> None:
        """Close and delete a partition this process opened for a change that did not happen."""
        self.partitions.pop((name, index), None)
        self.logs.delete(name, index)

    def delete_topic(self, name: str) -> None:
        info = self.topics.delete(name)
        self._topic_configs.pop(name, None)
        for i in range(info.num_partitions):
            if not self.owns(name, i):
                continue  # its owner deletes it when it sees the new registry
            self.partitions.pop((name, i), None)
            self.logs.delete(name, i)
            self.fetch_purgatory.notify((name, i))

    def add_partitions(self, name: str, count: int) -> None:
        info = self.topics.get(name)
        old = info.num_partitions
        # opened before the new count is registered (see create_topic); _open_partitions reads
        # only the topic's name and configs
        self._open_or_undo(info, range(old, count), lambda: self.topics.set_partitions(name, count))

    def set_topic_configs(self, name: str, configs: dict[str, str]) -> None:
        self.topics.set_configs(name, configs)
        info = self.topics.get(name)
        lc = log_config_for(self.effective_topic_config(info))
        for i in range(info.num_partitions):
            p = self.partitions.get((name, i))
            if p is not None:
                p.log.config = lc

    def set_broker_dynamic_configs(self, configs: dict[str, str], cluster_default: bool = False) -> None:
        """AlterConfigs on the broker: persist its dynamic configs, or (``cluster_default``) the
        cluster-wide ones (they survive a restart, as Kafka's do) and push changed log settings
        to every partition already open."""
        self.topics.set_broker_configs(configs, cluster_default)
        self.config.follow(self.topics.broker_configs, self.topics.broker_default_configs)
        for info in self.topics:
            lc = log_config_for(self.effective_topic_config(info))
            for i in range(info.num_partitions):
                p = self.partitions.get((info.name, i))
                if p is not None:
                    p.log.config = lc

    def ensure_group_coordinator(self) -> bool:
        """Create the group coordinator (the __consumer_offsets topic, its shards) if this is the
        first group request (FindCoordinator); False if there is none (no room to create it)."""
        from hpbroker.coordinator.coordinator import get_coordinator  # coordinator imports us

        return get_coordinator(self) is not None

    def partition(self, topic: str, index: int) -> Partition | None:
        return self.partitions.get((topic, index))

    def next_producer_id(self) -> int:
        self._next_producer_id += 1
        return self._next_producer_id

    def notify_append(self, topic: str, index: int) -> None:
        self.fetch_purgatory.notify((topic, index))

    def run_maintenance(self) -> None:
        if self.group_coordinator is not None:
            try:
                self.group_coordinator.maybe_expire_offsets()
                self.group_coordinator.compact()
            except OSError as exc:  # a full disk: tried again next tick, reported now and then
                warn_storage_failure(log, ("__consumer_offsets", "maintenance"),
                                     "expiring or compacting __consumer_offsets failed: %s", exc)
        self.logs.run_maintenance()
        for p in self.partitions.values():
            if p.log.log_start_offset > p.high_watermark:  # retention cannot pass the HW
                p.log.high_watermark = p.log.log_start_offset
        self.run_cleaner()

    def run_cleaner(self, now: int | None = None) -> CleanResult | None:
        """The log cleaner's turn (storage/cleaner.py), once per maintenance tick: install the
        pass a cleaner thread has built, or plan one for the dirtiest compacted partition due
        for one and hand it to that thread. With none due, the next look is
        log.cleaner.backoff.ms away, as Kafka's cleaner thread sleeps. Internal topics compact
        their own way (the group coordinator). Returns what a pass installed now did."""
        if self._cleaning is not None:
            return self._install_cleaned()
        if not self.config.get("log.cleaner.enable"):
            return None
        now = int(time.time() * 1000) if now is None else now
        if now < self._cleaner_next_check:
            return None
        best = None
        for (topic, index), plog in self.logs.logs():
            if not plog.config.cleanup_compact or topic in INTERNAL_TOPICS:
                continue
            ratio = dirtiness(plog, now)
            if ratio is not None and (best is None or ratio > best[0]):
                best = (ratio, topic, index, plog)
        planned = None if best is None else cleaner.plan(best[3], now)
        if planned is None:
            self._cleaner_next_check = now + self.config.get("log.cleaner.backoff.ms")
            return None
        if self._cleaner_pool is None:
            self._cleaner_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-cleaner")
        self._cleaning = (planned, self._cleaner_pool.submit(cleaner.build, planned), (best[1], best[2]))
        return None

    def _install_cleaned(self) -> CleanResult | None:
        planned, future, (topic, index) = self._cleaning
        if not future.done():
            return None
        self._cleaning = None
        try:
            future.result()
        except Exception:
            log.exception("cleaning %s-%d failed", topic, index)
            self._cleaner_next_check = int(time.time() * 1000) + self.config.get("log.cleaner.backoff.ms")
            return None
        plog = self.logs.get(topic, index)
        if plog is None or plog.directory != planned.directory:
            shutil.rmtree(os.path.join(planned.directory, swap.WORK_DIR), ignore_errors=True)
            return None
        try:
            return cleaner.install(plog, planned, around_swap=lambda: self.rewriting(topic, index))
        except OSError:
            log.exception("cleaning %s-%d failed", topic, index)
            return None

    def wait_cleaner(self, timeout: float | None = None) -> None:
        """Until the pass being built (if any) is built: tests, and ``close``."""
        if self._cleaning is not None:
            wait([self._cleaning[1]], timeout)

    def _stop_cleaner(self) -> None:
        if self._cleaning is not None:
            planned, future, _ = self._cleaning
            planned.cancelled = True  # the thread drops its work at the next batch
            wait([future], 60)
            self._cleaning = None
            if future.done():  # built but not installed: not part of the log (open drops it too)
                shutil.rmtree(os.path.join(planned.directory, swap.WORK_DIR), ignore_errors=True)
        if self._cleaner_pool is not None:
            self._cleaner_pool.shutdown(wait=True)
            self._cleaner_pool = None

    def rewriting(self, topic: str, index: int):
        """Brackets the cleaner's file moves of a partition (readers in other processes must
        keep off them: server/handler_context.py); nothing to do when all reads are here."""
        return contextlib.nullcontext()

    def close(self) -> None:
        self._stop_cleaner()
        for p in self.partitions.values():  # a restart then replays only what comes after them
            try:
                p.write_producer_snapshot()
            except OSError:
                log.exception("writing the producer snapshot of %s-%d failed", p.topic, p.index)
        self.logs.close()
