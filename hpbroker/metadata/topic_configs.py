"""The topic configs in force: each topic's overrides over the broker's defaults, and what is
derived from them (the storage settings of its logs, the checks a Produce makes).

Building a topic's effective configs merges every topic config with the broker's defaults;
Produce needs them for every topic of every request, so ``TopicConfigCache`` keeps
them per topic until the topic's overrides or the broker's dynamic configs change.

Who may touch: the event loop of the process that holds the cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from hpbroker.config import TOPIC_CONFIGS, BrokerConfig
from hpbroker.metadata.topics import TopicInfo
from hpbroker.records.compression import NAMES as CODEC_NAMES
from hpbroker.records.layout import NO_COMPRESSION
from hpbroker.storage import LogConfig

_MAX_LONG = 9223372036854775807


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
TARGET_CODECS = {
    "producer": None,
    "uncompressed": NO_COMPRESSION,
    **{name: codec for codec, name in CODEC_NAMES.items() if codec != NO_COMPRESSION},
}


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
    name = {"gzip": "compression.gzip.level", "lz4": "compression.lz4.level", "zstd": "compression.zstd.level"}.get(
        effective["compression.type"]
    )
    return None if name is None else int(TOPIC_CONFIGS[name].parse(effective[name]))


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
        min_cleanable_dirty_ratio=float(
            TOPIC_CONFIGS["min.cleanable.dirty.ratio"].parse(effective["min.cleanable.dirty.ratio"])
        ),
        min_compaction_lag_ms=num("min.compaction.lag.ms"),
        max_compaction_lag_ms=num("max.compaction.lag.ms"),
    )


class _Entry(NamedTuple):
    # What the entry was computed from, compared by identity (TopicRegistry replaces a
    # topic's config dict on every change and a re-created topic is a new TopicInfo) and by
    # the broker config's generation (bumped by every dynamic change).
    topic: TopicInfo
    overrides: dict
    generation: int
    effective: Mapping[str, str]
    produce: ProduceSettings


class TopicConfigCache:
    def __init__(self, config: BrokerConfig):
        self.config = config
        self._entries: dict[str, _Entry] = {}

    def _entry(self, topic: TopicInfo) -> _Entry:
        entry = self._entries.get(topic.name)
        if (
            entry is None
            or entry.topic is not topic
            or entry.overrides is not topic.configs
            or entry.generation != self.config.generation
        ):
            effective = MappingProxyType(self.config.effective_topic_config(topic.configs))
            entry = _Entry(topic, topic.configs, self.config.generation, effective, produce_settings_for(effective))
            self._entries[topic.name] = entry
        return entry

    def effective(self, topic: TopicInfo) -> Mapping[str, str]:
        """Every topic config of ``topic`` (its overrides over the broker's defaults), read-only."""
        return self._entry(topic).effective

    def produce_settings(self, topic: TopicInfo) -> ProduceSettings:
        return self._entry(topic).produce

    def log_config(self, topic: TopicInfo) -> LogConfig:
        return log_config_for(self._entry(topic).effective)

    def value(self, topic: TopicInfo, name: str):
        """One config of ``topic``, parsed."""
        return TOPIC_CONFIGS[name].parse(self.effective(topic)[name])

    def forget(self, name: str) -> None:
        self._entries.pop(name, None)

    def defaults(self) -> LogConfig:
        """The storage settings of a topic without overrides."""
        return log_config_for(self.config.effective_topic_config({}))
