"""RecordBatch v2 (magic 2) byte layout: the unit hpbroker receives, stores and serves.

Byte layout (big-endian; offsets from the start of the batch)::

    off width field
      0   8   baseOffset            int64   \\ outside the CRC: the broker stamps these
      8   4   batchLength           int32    | in place without recomputing it
     12   4   partitionLeaderEpoch  int32   /  (total batch size = batchLength + 12)
     16   1   magic                 int8    = 2
     17   4   crc                   uint32  CRC-32C of bytes [21, end)
     21   2   attributes            int16   bits 0-2 codec, 3 LogAppendTime, 4 transactional,
                                            5 control, 6 delete horizon
     23   4   lastOffsetDelta       int32
     27   8   baseTimestamp         int64
     35   8   maxTimestamp          int64
     43   8   producerId            int64   -1 = not idempotent
     51   2   producerEpoch         int16
     53   4   baseSequence          int32
     57   4   recordsCount          int32
     61   ... records (one compressed blob when bits 0-2 are not 0)

Crash story: a batch in a .log file is only trusted if its length fits the file, its magic is 2
and its CRC matches; recovery (hpbroker.storage) cuts the log at the first batch that fails
``scan``. Because baseOffset and partitionLeaderEpoch lie outside the CRC, a torn write of a
patched header is still caught by the length/CRC check of the bytes that follow.
"""

from __future__ import annotations

from typing import NamedTuple

RECORD_BATCH_OVERHEAD = 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: the bytes not counted by batchLength
MAGIC = 2

OFF_BASE_OFFSET = 0
OFF_BATCH_LENGTH = 8
OFF_PARTITION_LEADER_EPOCH = 12
OFF_MAGIC = 16
OFF_CRC = 17
OFF_ATTRIBUTES = 21
OFF_LAST_OFFSET_DELTA = 23
OFF_BASE_TIMESTAMP = 27
OFF_MAX_TIMESTAMP = 35
OFF_PRODUCER_ID = 43
OFF_PRODUCER_EPOCH = 51
OFF_BASE_SEQUENCE = 53
OFF_RECORDS_COUNT = 57

CODEC_MASK = 0x07
TIMESTAMP_TYPE_MASK = 0x08
TRANSACTIONAL_MASK = 0x10
CONTROL_MASK = 0x20
DELETE_HORIZON_MASK = 0x40

NO_COMPRESSION, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4

# Kafka error codes a batch can earn (hpbroker.errors has the full table)
CORRUPT_MESSAGE = 2
INVALID_RECORD = 87
UNSUPPORTED_COMPRESSION_TYPE = 76


class BatchHeader(NamedTuple):
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def compression(self) -> int:
        return self.attributes & CODEC_MASK

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_MASK)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_MASK)

    @property
    def log_append_time(self) -> bool:
        return bool(self.attributes & TIMESTAMP_TYPE_MASK)

    @property
    def last_sequence(self) -> int:
        """baseSequence + lastOffsetDelta, wrapping past INT32_MAX to 0 as Kafka does."""
        if self.base_sequence < 0:
            return -1
        return (self.base_sequence + self.last_offset_delta) % 0x80000000


class InvalidRecordBatch(ValueError):
    """A batch from a peer (client or file) that must not reach the log.

    ``error_code`` is the Kafka error a producer gets for it: CORRUPT_MESSAGE (bad CRC or length,
    unknown codec, undecodable records), INVALID_RECORD (magic other than 2, or well-formed bytes
    that break a rule) or UNSUPPORTED_COMPRESSION_TYPE (zstd before Produce v7).
    """

    def __init__(self, error_code: int, reason: str):
        super().__init__(reason)
        self.error_code = error_code
        self.reason = reason
