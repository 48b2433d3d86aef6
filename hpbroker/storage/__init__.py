"""The partitioned log (DESIGN.md sections 3-4): segments, sparse mmap indexes, recovery.

Public API: LogConfig, PartitionLog (+ AppendInfo, FileRegion), PartitionLogReader, ReadResult
(what a read of either returns: read.py walks the segments for both), LogManager,
OffsetOutOfRange. No network code lives here.
"""

from hpbroker.storage.config import LogConfig
from hpbroker.storage.errors import OffsetOutOfRange
from hpbroker.storage.log import AppendInfo, PartitionLog
from hpbroker.storage.manager import LogManager, parse_topic_partition
from hpbroker.storage.read import ReadResult
from hpbroker.storage.reader import PartitionLogReader
from hpbroker.storage.segment import FileHandle, FileRegion, Segment

__all__ = [
    "AppendInfo",
    "FileHandle",
    "FileRegion",
    "LogConfig",
    "LogManager",
    "OffsetOutOfRange",
    "PartitionLog",
    "PartitionLogReader",
    "ReadResult",
    "Segment",
    "parse_topic_partition",
]
