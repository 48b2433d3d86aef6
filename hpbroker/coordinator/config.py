"""The group coordinator's settings (Kafka's GroupCoordinatorConfig / OffsetConfig), read from
the broker's properties by coordinator.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CoordinatorConfig:
    initial_rebalance_delay_ms: int = 3000  # group.initial.rebalance.delay.ms
    min_session_timeout_ms: int = 6000  # group.min.session.timeout.ms
    max_session_timeout_ms: int = 1800000  # group.max.session.timeout.ms
    offset_metadata_max_bytes: int = 4096  # Kafka's offset.metadata.max.bytes, at its default
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000  # offsets.retention.minutes
    group_max_size: int = 2**31 - 1  # group.max.size
