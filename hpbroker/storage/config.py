"""Per-partition log settings, named after Kafka's topic configs (``segment.bytes``, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

GIB = 1 << 30
MIB = 1 << 20
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class LogConfig:
    """Immutable: a config change builds a new LogConfig and hands it to ``PartitionLog.config``."""

    segment_bytes: int = GIB
    segment_ms: int = 7 * DAY_MS
    index_interval_bytes: int = 4096
    segment_index_bytes: int = 10 * MIB
    retention_ms: int = 7 * DAY_MS  # -1 = unlimited
    retention_bytes: int = -1  # -1 = unlimited
    flush_messages: int | None = None  # None = leave it to the page cache (Kafka's default)
    flush_ms: int | None = None
    file_delete_delay_ms: int = 60_000  # kept for Kafka parity; deletion is immediate (see log.py)
    #: cleanup.policy holds "delete": only then do retention.ms and retention.bytes delete
    #: segments (Kafka's LogConfig.delete). A "compact"-only topic keeps every segment: a key's
    #: latest value (a committed offset in __consumer_offsets) must never age out.
    cleanup_delete: bool = True
    #: cleanup.policy holds "compact": the log cleaner keeps the latest record of each key
    #: (storage/cleaner.py), with these settings (Kafka's topic configs of the same names)
    cleanup_compact: bool = False
    delete_retention_ms: int = DAY_MS  # delete.retention.ms: how long a tombstone stays
    min_cleanable_dirty_ratio: float = 0.5  # min.cleanable.dirty.ratio
    min_compaction_lag_ms: int = 0  # min.compaction.lag.ms
    max_compaction_lag_ms: int = (1 << 63) - 1  # max.compaction.lag.ms

    #: Kafka topic config name -> field name
    TOPIC_CONFIG_NAMES = {
        "segment.bytes": "segment_bytes",
        "segment.ms": "segment_ms",
        "index.interval.bytes": "index_interval_bytes",
        "segment.index.bytes": "segment_index_bytes",
        "retention.ms": "retention_ms",
        "retention.bytes": "retention_bytes",
        "flush.messages": "flush_messages",
        "flush.ms": "flush_ms",
        "file.delete.delay.ms": "file_delete_delay_ms",
    }

    def __post_init__(self):
        if self.segment_bytes < 14 or self.segment_bytes > 0x7FFFFFFF:
            raise ValueError(f"segment.bytes {self.segment_bytes} outside [14, 2^31-1]")
        if self.segment_index_bytes < 12:
            raise ValueError(f"segment.index.bytes {self.segment_index_bytes} too small")
        if self.index_interval_bytes < 0 or self.segment_ms <= 0:
            raise ValueError("index.interval.bytes must be >= 0 and segment.ms > 0")

    @classmethod
    def from_topic_config(cls, props: Mapping[str, object], defaults: LogConfig | None = None) -> LogConfig:
        """Overlay Kafka topic configs (string or int values) on ``defaults``; unknown names ignored.

        Kafka's ``flush.messages``/``flush.ms`` default to Long.MAX_VALUE meaning "never": values
        of 2^62 or more map to None here.
        """
        base = defaults or cls()
        changes: dict[str, Any] = {}
        policy = props.get("cleanup.policy")
        if policy is not None:
            parts = [p.strip() for p in str(policy).split(",")]
            changes["cleanup_delete"] = "delete" in parts
            changes["cleanup_compact"] = "compact" in parts
        for name, value in props.items():
            field = cls.TOPIC_CONFIG_NAMES.get(name)
            if field is None or value is None:
                continue
            v = int(str(value))
            if field in ("flush_messages", "flush_ms") and v >= 1 << 62:
                changes[field] = None
            else:
                changes[field] = v
        return replace(base, **changes)

    def to_topic_config(self) -> dict[str, str]:
        out = {}
        for name, field in self.TOPIC_CONFIG_NAMES.items():
            v = getattr(self, field)
            out[name] = str((1 << 63) - 1 if v is None else v)
        out["cleanup.policy"] = (
            ",".join(p for p, on in (("delete", self.cleanup_delete), ("compact", self.cleanup_compact)) if on)
            or "compact"
        )
        return out


assert {f.name for f in fields(LogConfig)} >= set(LogConfig.TOPIC_CONFIG_NAMES.values())
