"""Every topic config of Kafka 3.x: type, default, validator (Kafka's LogConfig), the broker
property that gives its default, and what it does here.

Unknown names are refused (INVALID_CONFIG "Unknown topic config name"), as Kafka refuses them.
"""

from __future__ import annotations

from hpbroker.configdef import checks
from hpbroker.configdef.types import (
    APPLIED,
    MAX_LONG,
    NO_EFFECT,
    TYPE_BOOLEAN,
    TYPE_DOUBLE,
    TYPE_INT,
    TYPE_LIST,
    TYPE_LONG,
    TYPE_STRING,
    Check,
    TopicConfigDef,
    at_least,
    between,
    each_of,
    one_of,
)

COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
NEVER = str(MAX_LONG)  # Kafka's Long.MAX_VALUE: "no limit" for the time and count configs


def _level(low: int, high: int, default: int | None = None) -> Check:
    """CompressionType.levelValidator: a codec's level range (gzip also takes its default, -1)."""
    if default is None:
        return between(low, high)
    return Check(
        f"[{low},...,{high}] or {default}",
        lambda v: (
            None
            if low <= v <= high or v == default
            else f"Value must be between {low} and {high} or equal to {default}"
        ),
    )


def _topic(name, config_type, default, broker_property, doc, check=None, effect=APPLIED) -> TopicConfigDef:
    return TopicConfigDef(
        name=name,
        config_type=config_type,
        default=default,
        doc=doc,
        check=check,
        effect=effect,
        broker_property=broker_property,
    )


TOPIC_CONFIGS: dict[str, TopicConfigDef] = {
    d.name: d
    for d in (
        # retention and segments (storage/log.py) --------------------------------------------------------
        _topic(
            "cleanup.policy",
            TYPE_LIST,
            "delete",
            "log.cleanup.policy",
            "What happens to old records. `delete`: whole segments go once older than retention.ms or past "
            "retention.bytes. `compact`: the log cleaner keeps the latest record of each key and drops "
            "tombstones after delete.retention.ms; a record without a key is refused (INVALID_RECORD). "
            "`compact,delete`: both. An empty list: neither, the log only grows.",
            each_of("compact", "delete"),
        ),
        _topic(
            "retention.ms",
            TYPE_LONG,
            "604800000",
            "log.retention.ms",
            "With cleanup.policy delete: a segment is deleted once its newest record is older than this (the "
            "active segment only after it rolled). Checked once a second. -1: no limit.",
            at_least(-1),
        ),
        _topic(
            "retention.bytes",
            TYPE_LONG,
            "-1",
            "log.retention.bytes",
            "With cleanup.policy delete: the oldest segments are deleted while the partition is larger than "
            "this. Any negative value: no limit.",
            None,
        ),
        _topic(
            "segment.bytes",
            TYPE_INT,
            "1073741824",
            "log.segment.bytes",
            "Size of a segment file: an append that would pass it rolls a new segment first.",
            at_least(14),
        ),
        _topic(
            "segment.ms",
            TYPE_LONG,
            "604800000",
            "log.roll.ms",
            "An append whose batch timestamp is more than this past the first batch's of the active segment "
            "rolls a new segment first (Kafka's rule), so that retention and compaction can act on old data.",
            at_least(1),
        ),
        _topic(
            "segment.index.bytes",
            TYPE_INT,
            "10485760",
            "log.index.size.max.bytes",
            "Size each segment's offset and time indexes are preallocated to; a full index rolls the segment. "
            "At least 12 here (one time-index entry); Kafka takes 4.",
            at_least(12),
        ),
        _topic(
            "index.interval.bytes",
            TYPE_INT,
            "4096",
            "log.index.interval.bytes",
            "Bytes of batches between two entries of the offset and time indexes: smaller finds a fetch "
            "position with less scanning, at the cost of larger indexes.",
            at_least(0),
        ),
        _topic(
            "flush.messages",
            TYPE_LONG,
            NEVER,
            "log.flush.interval.messages",
            "fsync the log after this many records were appended since the last flush. The default leaves "
            "flushing to the operating system, as Kafka does: replication, not fsync, protects acknowledged "
            "records.",
            at_least(1),
        ),
        _topic(
            "flush.ms",
            TYPE_LONG,
            NEVER,
            "log.flush.interval.ms",
            "fsync the log when records are unflushed and the last flush is older than this. The default never does.",
            at_least(0),
        ),
        _topic(
            "max.message.bytes",
            TYPE_INT,
            "1048588",
            "message.max.bytes",
            "Largest record batch (as sent, compressed) a Produce may append; a larger one is refused with "
            "MESSAGE_TOO_LARGE.",
            at_least(0),
        ),
        _topic(
            "message.timestamp.type",
            TYPE_STRING,
            "CreateTime",
            "log.message.timestamp.type",
            "`CreateTime`: batches keep the producer's timestamps. `LogAppendTime`: the broker sets each "
            "batch's timestamp to its clock at append.",
            one_of("CreateTime", "LogAppendTime"),
        ),
        _topic(
            "message.timestamp.before.max.ms",
            TYPE_LONG,
            NEVER,
            "log.message.timestamp.before.max.ms",
            "With CreateTime: a batch with a record timestamp further in the past than this is refused "
            "(INVALID_TIMESTAMP).",
            at_least(0),
        ),
        _topic(
            "message.timestamp.after.max.ms",
            TYPE_LONG,
            NEVER,
            "log.message.timestamp.after.max.ms",
            "With CreateTime: a batch with a record timestamp further in the future than this is refused "
            "(INVALID_TIMESTAMP).",
            at_least(0),
        ),
        _topic(
            "message.timestamp.difference.max.ms",
            TYPE_LONG,
            NEVER,
            "log.message.timestamp.difference.max.ms",
            "Deprecated by Kafka in favour of the two above: it is the limit of each of them that is left at "
            "its default (as Kafka 3.x applies it).",
            at_least(0),
        ),
        _topic(
            "min.insync.replicas",
            TYPE_INT,
            "1",
            "min.insync.replicas",
            "The fewest in-sync replicas (ISR, the leader included) an acks=all Produce needs: with fewer, it is "
            "refused before the append (NOT_ENOUGH_REPLICAS); if the ISR shrank below it while the Produce "
            "waited for the high watermark, it is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND (the records are in "
            "the log). acks=1 and acks=0 ignore it.",
            at_least(1),
        ),
        _topic(
            "compression.type",
            TYPE_STRING,
            "producer",
            "compression.type",
            "`producer`: batches are stored as the producer compressed them. A codec name (or "
            "`uncompressed`): batches in another codec are recompressed to it before they are stored.",
            one_of(*COMPRESSION_TYPES),
        ),
        _topic(
            "compression.gzip.level",
            TYPE_INT,
            "-1",
            "compression.gzip.level",
            "Level of gzip when the broker recompresses to gzip (-1: zlib's default, 6).",
            _level(1, 9, -1),
        ),
        _topic(
            "compression.lz4.level",
            TYPE_INT,
            "9",
            "compression.lz4.level",
            "Level of lz4 when the broker recompresses to lz4.",
            _level(1, 17),
        ),
        _topic(
            "compression.zstd.level",
            TYPE_INT,
            "3",
            "compression.zstd.level",
            "Level of zstd when the broker recompresses to zstd.",
            _level(-131072, 22),
        ),
        _topic(
            "unclean.leader.election.enable",
            TYPE_BOOLEAN,
            "false",
            "unclean.leader.election.enable",
            "When no replica of the ISR is alive, the controller may elect a live replica that is not in it: "
            "the partition comes back sooner, and the records acknowledged past that replica's log end are lost.",
            None,
        ),
        # the log cleaner of compacted topics (storage/cleaner.py) ----------------------------------------
        _topic(
            "delete.retention.ms",
            TYPE_LONG,
            "86400000",
            "log.cleaner.delete.retention.ms",
            "With compact: how long a tombstone (a record with a null value) stays after the cleaner first "
            "passed it, so that a consumer reading from the start sees the delete.",
            at_least(0),
        ),
        _topic(
            "min.cleanable.dirty.ratio",
            TYPE_DOUBLE,
            "0.5",
            "log.cleaner.min.cleanable.ratio",
            "With compact: the cleaner takes a partition once the bytes written since its last pass are at "
            "least this share of the log (or max.compaction.lag.ms says it must).",
            between(0, 1),
        ),
        _topic(
            "min.compaction.lag.ms",
            TYPE_LONG,
            "0",
            "log.cleaner.min.compaction.lag.ms",
            "With compact: records younger than this are never compacted away.",
            at_least(0),
        ),
        _topic(
            "max.compaction.lag.ms",
            TYPE_LONG,
            NEVER,
            "log.cleaner.max.compaction.lag.ms",
            "With compact: a record older than this makes its partition due for cleaning whatever its dirty ratio.",
            at_least(1),
        ),
        # accepted, checked and reported as Kafka does, so that tools that set them work; no effect here --
        _topic(
            "file.delete.delay.ms",
            TYPE_LONG,
            "60000",
            "log.segment.delete.delay.ms",
            "No effect: a deleted segment's files are unlinked at once; a reader that has them open keeps "
            "reading through its descriptor.",
            at_least(0),
            NO_EFFECT,
        ),
        _topic(
            "preallocate",
            TYPE_BOOLEAN,
            "false",
            "log.preallocate",
            "No effect: segment files are never preallocated (their indexes are).",
            None,
            NO_EFFECT,
        ),
        _topic(
            "segment.jitter.ms",
            TYPE_LONG,
            "0",
            "log.roll.jitter.ms",
            "No effect: segments roll at segment.ms exactly.",
            at_least(0),
            NO_EFFECT,
        ),
        _topic(
            "message.downconversion.enable",
            TYPE_BOOLEAN,
            "true",
            "log.message.downconversion.enable",
            "No effect: Fetch serves batches as stored (RecordBatch v2); there is no down-conversion for "
            "old consumers.",
            None,
            NO_EFFECT,
        ),
        _topic(
            "message.format.version",
            TYPE_STRING,
            "3.0-IV1",
            "log.message.format.version",
            "No effect: every batch is RecordBatch v2, as in any Kafka 3.x with inter.broker.protocol.version "
            "3.0 or later. Old values (0.10.0, 0.10.0.1, 2.8-IV1 ...) are taken and reported as Kafka takes "
            "them.",
            checks.metadata_version,
            NO_EFFECT,
        ),
        _topic(
            "remote.storage.enable",
            TYPE_BOOLEAN,
            "false",
            None,
            "Tiered storage. hpbroker has none: true is refused, as by a Kafka broker without "
            "remote.log.storage.system.enable.",
            Check("false", checks.tiered_storage_off),
            NO_EFFECT,
        ),
        _topic(
            "local.retention.ms",
            TYPE_LONG,
            "-2",
            "log.local.retention.ms",
            "No effect (tiered storage): -2 means retention.ms.",
            at_least(-2),
            NO_EFFECT,
        ),
        _topic(
            "local.retention.bytes",
            TYPE_LONG,
            "-2",
            "log.local.retention.bytes",
            "No effect (tiered storage): -2 means retention.bytes.",
            at_least(-2),
            NO_EFFECT,
        ),
        _topic(
            "leader.replication.throttled.replicas",
            TYPE_LIST,
            "",
            None,
            "No effect: there is no replication throttle (kafka-reassign-partitions sets it).",
            checks.throttled_replicas("leader.replication.throttled.replicas"),
            NO_EFFECT,
        ),
        _topic(
            "follower.replication.throttled.replicas",
            TYPE_LIST,
            "",
            None,
            "No effect: there is no replication throttle (kafka-reassign-partitions sets it).",
            checks.throttled_replicas("follower.replication.throttled.replicas"),
            NO_EFFECT,
        ),
    )
}
