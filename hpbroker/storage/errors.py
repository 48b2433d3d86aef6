"""Errors of the storage layer that map to Kafka error codes."""

from __future__ import annotations

OFFSET_OUT_OF_RANGE = 1  # Kafka error code


class OffsetOutOfRange(Exception):
    """A fetch or log start offset outside [log_start_offset, log_end_offset]."""

    error_code = OFFSET_OUT_OF_RANGE

    def __init__(self, offset: int, log_start_offset: int, log_end_offset: int):
        super().__init__(f"offset {offset} outside [{log_start_offset}, {log_end_offset}]")
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset
