"""Test helpers for the storage layer: batches of a given shape, an unclean stop."""

from __future__ import annotations

from hpbroker.records.builder import build_batch


def make_batch(n_records: int = 1, value_size: int = 10, timestamp: int = 1_000_000, fill: int = 0) -> bytearray:
    value = bytes([fill % 256]) * value_size
    return build_batch([value] * n_records, base_timestamp=timestamp)


def crash(plog) -> None:
    """Drop a PartitionLog as a killed process would: no flush, no trim, no marker."""
    for seg in plog._segments:
        seg.close()
    plog._closed = True
