"""Broker and topic configuration, with Kafka's property names.

Broker properties come from defaults, then ``--config server.properties``, then command-line
flags (flags win). Topic configs (``retention.ms`` ...) default to a broker property
(``log.retention.ms`` ...) and may be overridden per topic (CreateTopics, AlterConfigs).
``DescribeConfigs`` reports each value with its source, as Kafka does.

Who may touch: built once at start-up; ``BrokerConfig`` is then read-only except through
AlterConfigs on the broker resource (dynamic configs, persisted with the topic registry).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# DescribeConfigs config_source values (DescribeConfigsResponse.json)
SOURCE_TOPIC_CONFIG = 1
SOURCE_DYNAMIC_BROKER_CONFIG = 2
SOURCE_STATIC_BROKER_CONFIG = 4
SOURCE_DEFAULT_CONFIG = 5

# ConfigType values (DescribeConfigs v3+)
TYPE_BOOLEAN, TYPE_STRING, TYPE_INT, TYPE_SHORT, TYPE_LONG, TYPE_DOUBLE, TYPE_LIST = 1, 2, 3, 4, 5, 6, 7


class ConfigError(ValueError):
    """An invalid config name or value (Kafka error INVALID_CONFIG)."""


def parse_named(d, name: str, value: str):
    """``d.parse(value)``, the error naming the config it is about: a properties file or an
    AlterConfigs call with several bad values must say which one."""
    try:
        return d.parse(value)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _bool(v: str) -> bool:
    s = str(v).strip().lower()
    if s in ("true", "false"):
        return s == "true"
    raise ConfigError(f"{v!r} is not a boolean")


def _int(v: str) -> int:
    try:
        return int(str(v).strip())
    except ValueError:
        raise ConfigError(f"{v!r} is not an integer") from None


def _nonneg(v: str) -> int:
    n = _int(v)
    if n < 0:
        raise ConfigError(f"{v!r} must be >= 0")
    return n


def _buffer_bytes(v: str) -> int:
    """A socket buffer size: -1 for the kernel's own (autotuned) size, else at least 1 byte."""
    n = _int(v)
    if n < -1 or n == 0:
        raise ConfigError(f"{v!r} must be -1 (the kernel's default) or > 0")
    return n


def parse_connection_overrides(v: str) -> list[tuple[str, int]]:
    """max.connections.per.ip.overrides: ``host:count,host:count`` -> [(host, count)] (an IPv6
    host in brackets or not: the count is after the last colon)."""
    out = []
    for entry in (e.strip() for e in str(v).split(",")):
        if not entry:
            continue
        host, sep, count = entry.rpartition(":")
        try:
            n = int(count)
        except ValueError:
            n = -1
        if not sep or not host or n < 0:
            raise ConfigError(f"each entry is host:count with a count >= 0, got {entry!r}")
        out.append((host.strip("[]"), n))
    return out


def _connection_overrides(v: str) -> str:
    parse_connection_overrides(v)
    return str(v)


def _positive(v: str) -> int:
    n = _int(v)
    if n <= 0:
        raise ConfigError(f"{v!r} must be > 0")
    return n


def _long_or_unlimited(v: str) -> int:
    n = _int(v)
    if n < -1:
        raise ConfigError(f"{v!r} must be -1 (unlimited) or >= 0")
    return n


def _at_least(low: int) -> Callable[[str], int]:
    def parse(v: str) -> int:
        n = _int(v)
        if n < low:
            raise ConfigError(f"{v!r} must be >= {low}")
        return n

    return parse


def _int_in(low: int, high: int, *also: int) -> Callable[[str], int]:
    def parse(v: str) -> int:
        n = _int(v)
        if not low <= n <= high and n not in also:
            raise ConfigError(f"{v!r} must be between {low} and {high}" + (f" or {also[0]}" if also else ""))
        return n

    return parse


def _ratio(v: str) -> float:
    try:
        x = float(str(v).strip())
    except ValueError:
        raise ConfigError(f"{v!r} is not a number") from None
    if not 0.0 <= x <= 1.0:
        raise ConfigError(f"{v!r} must be between 0 and 1")
    return x


def _remote_storage(v: str) -> bool:
    if _bool(v):
        raise ConfigError("Tiered Storage functionality is disabled in the broker. "
                          "Topic cannot be configured with remote log storage.")
    return False


def _throttled_replicas(v: str) -> str:
    """Kafka's ThrottledReplicaListValidator: empty, ``*``, or ``partition:broker,...``."""
    s = str(v).strip()
    if s in ("", "*") or all(len(p.split(":")) == 2 and all(x.strip().isdigit() for x in p.split(":"))
                             for p in s.split(",")):
        return s
    raise ConfigError(f"{v!r} must be '*' or a list of partition:broker pairs")


def _message_format_version(v: str) -> str:
    s = str(v).strip()
    head = s.split("-")[0].split(".")
    if not (2 <= len(head) <= 3 and all(x.isdigit() for x in head)):
        raise ConfigError(f"{v!r} is not a Kafka version (e.g. 3.0-IV1)")
    return s


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        s = str(v).strip()
        if s not in allowed:
            raise ConfigError(f"{v!r} is not one of {', '.join(allowed)}")
        return s

    return parse


_compression_type = _choice("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")


def _cleanup_policy(v: str) -> str:
    parts = [p.strip() for p in str(v).split(",") if p.strip()]
    if not parts or any(p not in ("delete", "compact") for p in parts):
        raise ConfigError(f"{v!r} is not a list of delete/compact")
    return ",".join(parts)


def _str(v: str) -> str:
    return str(v)


@dataclass(frozen=True)
class TopicConfigDef:
    name: str
    broker_property: str | None  # the broker default it falls back to
    default: str
    parse: Callable[[str], object]
    config_type: int


# name -> definition: the topic configs hpbroker knows. Unknown names are INVALID_CONFIG.
TOPIC_CONFIGS: dict[str, TopicConfigDef] = {
    d.name: d
    for d in (
        TopicConfigDef("cleanup.policy", "log.cleanup.policy", "delete", _cleanup_policy, TYPE_LIST),
        TopicConfigDef("retention.ms", "log.retention.ms", "604800000", _long_or_unlimited, TYPE_LONG),
        TopicConfigDef("retention.bytes", "log.retention.bytes", "-1", _long_or_unlimited, TYPE_LONG),
        TopicConfigDef("segment.bytes", "log.segment.bytes", "1073741824", _positive, TYPE_INT),
        TopicConfigDef("segment.ms", "log.roll.ms", "604800000", _positive, TYPE_LONG),
        TopicConfigDef("segment.index.bytes", "log.index.size.max.bytes", "10485760", _positive, TYPE_INT),
        TopicConfigDef("index.interval.bytes", "log.index.interval.bytes", "4096", _nonneg, TYPE_INT),
        TopicConfigDef("flush.messages", "log.flush.interval.messages", "9223372036854775807", _positive, TYPE_LONG),
        TopicConfigDef("flush.ms", "log.flush.interval.ms", "9223372036854775807", _nonneg, TYPE_LONG),
        TopicConfigDef("max.message.bytes", "message.max.bytes", "1048588", _nonneg, TYPE_INT),
        TopicConfigDef(
            "message.timestamp.type", "log.message.timestamp.type", "CreateTime",
            _choice("CreateTime", "LogAppendTime"), TYPE_STRING,
        ),
        TopicConfigDef("min.insync.replicas", "min.insync.replicas", "1", _positive, TYPE_INT),
        TopicConfigDef("compression.type", "compression.type", "producer", _compression_type, TYPE_STRING),
        TopicConfigDef("unclean.leader.election.enable", "unclean.leader.election.enable", "false", _bool, TYPE_BOOLEAN),
        TopicConfigDef("message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms",
                       "9223372036854775807", _nonneg, TYPE_LONG),
        TopicConfigDef("message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms",
                       "9223372036854775807", _nonneg, TYPE_LONG),
        # the log cleaner of compacted topics (storage/cleaner.py)
        TopicConfigDef("delete.retention.ms", "log.cleaner.delete.retention.ms", "86400000", _nonneg, TYPE_LONG),
        TopicConfigDef("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", "0.5", _ratio, TYPE_DOUBLE),
        TopicConfigDef("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "0", _nonneg, TYPE_LONG),
        TopicConfigDef("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", "9223372036854775807",
                       _positive, TYPE_LONG),
        # the level of the codec compression.type names, when the broker recompresses
        TopicConfigDef("compression.gzip.level", "compression.gzip.level", "-1", _int_in(1, 9, -1), TYPE_INT),
        TopicConfigDef("compression.lz4.level", "compression.lz4.level", "9", _int_in(1, 17), TYPE_INT),
        TopicConfigDef("compression.zstd.level", "compression.zstd.level", "3", _int_in(-131072, 22), TYPE_INT),
        # The rest of Kafka's topic configs: accepted, validated and reported as Kafka does, so
        # that clients and tools that set them (Streams, Connect, kafka-configs.sh) work, but
        # without effect here: segments are unlinked at once (file.delete.delay.ms), never
        # preallocated or rolled with jitter, there is no tiered storage, no down-conversion
        # and no replication throttle.
        TopicConfigDef("file.delete.delay.ms", "log.segment.delete.delay.ms", "60000", _nonneg, TYPE_LONG),
        TopicConfigDef("preallocate", "log.preallocate", "false", _bool, TYPE_BOOLEAN),
        TopicConfigDef("segment.jitter.ms", "log.roll.jitter.ms", "0", _nonneg, TYPE_LONG),
        TopicConfigDef("message.downconversion.enable", "log.message.downconversion.enable", "true", _bool,
                       TYPE_BOOLEAN),
        TopicConfigDef("message.format.version", "log.message.format.version", "3.0-IV1", _message_format_version,
                       TYPE_STRING),
        TopicConfigDef("message.timestamp.difference.max.ms", "log.message.timestamp.difference.max.ms",
                       "9223372036854775807", _nonneg, TYPE_LONG),
        TopicConfigDef("remote.storage.enable", None, "false", _remote_storage, TYPE_BOOLEAN),
        TopicConfigDef("local.retention.ms", "log.local.retention.ms", "-2", _at_least(-2), TYPE_LONG),
        TopicConfigDef("local.retention.bytes", "log.local.retention.bytes", "-2", _at_least(-2), TYPE_LONG),
        TopicConfigDef("leader.replication.throttled.replicas", "leader.replication.throttled.replicas", "",
                       _throttled_replicas, TYPE_LIST),
        TopicConfigDef("follower.replication.throttled.replicas", "follower.replication.throttled.replicas", "",
                       _throttled_replicas, TYPE_LIST),
    )
}


@dataclass(frozen=True)
class BrokerConfigDef:
    name: str
    default: str | None  # None: no value unless set (log.retention.minutes)
    parse: Callable[[str], object]
    config_type: int
    read_only: bool = True


BROKER_CONFIGS: dict[str, BrokerConfigDef] = {
    d.name: d
    for d in (
        BrokerConfigDef("broker.id", "0", _nonneg, TYPE_INT),
        BrokerConfigDef("node.id", "0", _nonneg, TYPE_INT),
        BrokerConfigDef("listeners", "PLAINTEXT://127.0.0.1:9092", _str, TYPE_LIST),
        BrokerConfigDef("advertised.listeners", "", _str, TYPE_LIST),
        BrokerConfigDef("log.dirs", "./data", _str, TYPE_LIST),
        BrokerConfigDef("num.partitions", "1", _positive, TYPE_INT, False),
        BrokerConfigDef("default.replication.factor", "1", _positive, TYPE_SHORT),
        BrokerConfigDef("auto.create.topics.enable", "true", _bool, TYPE_BOOLEAN),
        BrokerConfigDef("delete.topic.enable", "true", _bool, TYPE_BOOLEAN),
        BrokerConfigDef("log.segment.bytes", "1073741824", _positive, TYPE_INT, False),
        BrokerConfigDef("log.roll.ms", "604800000", _positive, TYPE_LONG, False),
        BrokerConfigDef("log.roll.hours", "168", _positive, TYPE_INT),
        BrokerConfigDef("log.roll.jitter.hours", "0", _nonneg, TYPE_INT),
        BrokerConfigDef("log.retention.ms", "604800000", _long_or_unlimited, TYPE_LONG, False),
        BrokerConfigDef("log.retention.minutes", None, _int, TYPE_INT),
        BrokerConfigDef("log.retention.hours", "168", _int, TYPE_INT),
        BrokerConfigDef("log.retention.bytes", "-1", _long_or_unlimited, TYPE_LONG, False),
        BrokerConfigDef("log.retention.check.interval.ms", "300000", _positive, TYPE_LONG),
        BrokerConfigDef("log.index.interval.bytes", "4096", _nonneg, TYPE_INT, False),
        BrokerConfigDef("log.index.size.max.bytes", "10485760", _positive, TYPE_INT, False),
        BrokerConfigDef("log.flush.interval.messages", "9223372036854775807", _positive, TYPE_LONG, False),
        BrokerConfigDef("log.flush.interval.ms", "9223372036854775807", _nonneg, TYPE_LONG, False),
        BrokerConfigDef("log.cleanup.policy", "delete", _cleanup_policy, TYPE_LIST, False),
        BrokerConfigDef("log.cleaner.enable", "true", _bool, TYPE_BOOLEAN),
        BrokerConfigDef("log.cleaner.backoff.ms", "15000", _nonneg, TYPE_LONG),
        BrokerConfigDef("log.cleaner.delete.retention.ms", "86400000", _nonneg, TYPE_LONG, False),
        BrokerConfigDef("log.cleaner.min.cleanable.ratio", "0.5", _ratio, TYPE_DOUBLE, False),
        BrokerConfigDef("log.cleaner.min.compaction.lag.ms", "0", _nonneg, TYPE_LONG, False),
        BrokerConfigDef("log.cleaner.max.compaction.lag.ms", "9223372036854775807", _positive, TYPE_LONG, False),
        BrokerConfigDef("log.message.timestamp.type", "CreateTime", _choice("CreateTime", "LogAppendTime"), TYPE_STRING, False),
        BrokerConfigDef("log.message.timestamp.before.max.ms", "9223372036854775807", _nonneg, TYPE_LONG, False),
        BrokerConfigDef("log.message.timestamp.after.max.ms", "9223372036854775807", _nonneg, TYPE_LONG, False),
        BrokerConfigDef("message.max.bytes", "1048588", _nonneg, TYPE_INT, False),
        BrokerConfigDef("min.insync.replicas", "1", _positive, TYPE_INT, False),
        BrokerConfigDef("compression.type", "producer", _compression_type, TYPE_STRING, False),
        BrokerConfigDef("unclean.leader.election.enable", "false", _bool, TYPE_BOOLEAN, False),
        BrokerConfigDef("socket.request.max.bytes", "104857600", _positive, TYPE_INT),
        BrokerConfigDef("connections.max.idle.ms", "600000", _int, TYPE_LONG),
        # Kafka's defaults are 102400 for both. hpbroker keeps Kafka's for the send buffer (a
        # Fetch's sendfile then moves at most ~200 KiB ahead of the consumer, and broker CPU per
        # GB out stays at its low mode) and leaves the receive buffer to the kernel's autotuning
        # (-1): Kafka's 102400 there cost a 1 KB Produce 70% more CPU per GB and 18% of its
        # throughput. tuning.md, "Socket buffers".
        BrokerConfigDef("socket.send.buffer.bytes", "102400", _buffer_bytes, TYPE_INT),
        BrokerConfigDef("socket.receive.buffer.bytes", "-1", _buffer_bytes, TYPE_INT),
        # Kafka's connection limits (server/connection_quotas.py); dynamic, as in Kafka
        BrokerConfigDef("max.connections", "2147483647", _nonneg, TYPE_INT, False),
        BrokerConfigDef("max.connections.per.ip", "2147483647", _nonneg, TYPE_INT, False),
        BrokerConfigDef("max.connections.per.ip.overrides", "", _connection_overrides, TYPE_STRING, False),
        BrokerConfigDef("num.network.threads", "1", _nonneg, TYPE_INT),
        BrokerConfigDef("num.io.threads", "0", _nonneg, TYPE_INT),
        BrokerConfigDef("offsets.topic.num.partitions", "50", _positive, TYPE_INT),
        BrokerConfigDef("group.initial.rebalance.delay.ms", "3000", _nonneg, TYPE_INT),
        BrokerConfigDef("group.min.session.timeout.ms", "6000", _nonneg, TYPE_INT),
        BrokerConfigDef("group.max.session.timeout.ms", "1800000", _nonneg, TYPE_INT),
        BrokerConfigDef("group.max.size", "2147483647", _positive, TYPE_INT),
        BrokerConfigDef("offsets.retention.minutes", "10080", _positive, TYPE_INT),
        BrokerConfigDef("offsets.retention.check.interval.ms", "600000", _positive, TYPE_LONG),
        BrokerConfigDef("transactional.id.expiration.ms", "604800000", _positive, TYPE_INT),
    )
}


def read_properties(path: str) -> dict[str, str]:
    """Parse a Java .properties file (key=value or key: value, # and ! comments)."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        pending = ""
        for raw in f:
            line = raw.rstrip("\n")
            if pending:
                line = pending + line.lstrip()
                pending = ""
            if line.endswith("\\"):
                pending = line[:-1]
                continue
            s = line.strip()
            if not s or s[0] in "#!":
                continue
            for i, ch in enumerate(s):
                if ch in "=:":
                    out[s[:i].strip()] = s[i + 1 :].strip()
                    break
            else:
                out[s] = ""
    return out


#: Time configs Kafka's broker also takes in coarser units (KafkaConfig.logRetentionTimeMillis,
#: logRollTimeMillis, logRollTimeJitterMillis): when the ms property is not set, the first of
#: these that is set gives its value, else the last one's default (168 hours = the 7 days of
#: log.retention.ms's and log.roll.ms's defaults). server.properties as Kafka ships it sets
#: ``log.retention.hours=168``; a file with ``log.retention.hours=24`` must mean one day.
TIME_SYNONYMS: dict[str, tuple[tuple[str, int], ...]] = {
    "log.retention.ms": (("log.retention.minutes", 60_000), ("log.retention.hours", 3_600_000)),
    "log.roll.ms": (("log.roll.hours", 3_600_000),),
    "log.roll.jitter.ms": (("log.roll.jitter.hours", 3_600_000),),
}

#: broker property -> the topic config whose default it is, for the properties that are only
#: that (compression.gzip.level, log.preallocate, ...): their values are checked as the topic
#: config's, so a bad one in the properties file stops the start instead of the first topic
_TOPIC_DEFAULT_OF = {t.broker_property: t for t in TOPIC_CONFIGS.values()
                     if t.broker_property and t.broker_property not in BROKER_CONFIGS}


class BrokerConfig:
    """The broker's effective properties: default < static file/flags < dynamic (AlterConfigs).

    ``dynamic`` is replaced as a whole, never changed in place: assigning it bumps
    ``generation``, which is how caches of values derived from this config (the per-topic
    effective configs in BrokerContext) know they are stale.
    """

    def __init__(self, static: dict[str, str] | None = None):
        self.static: dict[str, str] = {}
        self.generation = 0
        self._dynamic: dict[str, str] = {}
        for name, value in (static or {}).items():
            d = BROKER_CONFIGS.get(name) or _TOPIC_DEFAULT_OF.get(name)
            if d is not None:
                parse_named(d, name, value)  # fail fast on a bad value, as Kafka fails to start
            self.static[name] = str(value)

    @property
    def dynamic(self) -> dict[str, str]:
        return self._dynamic

    @dynamic.setter
    def dynamic(self, configs: dict[str, str]) -> None:
        self._dynamic = configs
        self.generation += 1

    def unused_names(self) -> list[str]:
        """Static properties hpbroker does not read (a typo, or a Kafka setting with no meaning
        here, e.g. zookeeper.connect): the start-up log names them instead of ignoring them
        silently, as Kafka logs "supplied but isn't a known config"."""
        return sorted(n for n in self.static if n not in BROKER_CONFIGS and n not in _TOPIC_DEFAULT_OF)

    def given(self, name: str) -> bool:
        """Set statically or dynamically (not a default)."""
        return name in self.dynamic or name in self.static

    def from_synonym(self, name: str) -> tuple[str, str] | None:
        """(value, the property it came from) of a ms time config not given itself but through
        a coarser synonym, or None."""
        for synonym, factor in TIME_SYNONYMS.get(name, ()):
            if self.given(synonym):
                ms = int(str(self.raw(synonym)).strip()) * factor
                if name == "log.retention.ms" and ms < 0:
                    ms = -1  # any negative retention is "unlimited" (Kafka)
                return str(ms), synonym
        return None

    def raw(self, name: str) -> str | None:
        if name in self.dynamic:
            return self.dynamic[name]
        if name in self.static:
            return self.static[name]
        derived = self.from_synonym(name)
        if derived is not None:
            return derived[0]
        d = BROKER_CONFIGS.get(name)
        if d is None:
            tdef = next((t for t in TOPIC_CONFIGS.values() if t.broker_property == name), None)
            if tdef is None:
                raise KeyError(name)
            return tdef.default
        return d.default

    def get(self, name: str):
        d = BROKER_CONFIGS.get(name)
        return d.parse(self.raw(name)) if d else self.raw(name)

    def source(self, name: str) -> int:
        if name in self.dynamic:
            return SOURCE_DYNAMIC_BROKER_CONFIG
        if name in self.static:
            return SOURCE_STATIC_BROKER_CONFIG
        derived = self.from_synonym(name)
        if derived is not None:
            return self.source(derived[1])
        return SOURCE_DEFAULT_CONFIG

    # topic configs -------------------------------------------------------------------------
    def topic_default(self, name: str) -> tuple[str, int]:
        """(value, source) of topic config ``name`` when the topic does not override it."""
        d = TOPIC_CONFIGS[name]
        prop = d.broker_property
        if prop and (self.given(prop) or self.from_synonym(prop) is not None):
            return self.raw(prop), self.source(prop)
        return d.default, SOURCE_DEFAULT_CONFIG

    def effective_topic_config(self, overrides: dict[str, str]) -> dict[str, str]:
        out = {name: self.topic_default(name)[0] for name in TOPIC_CONFIGS}
        out.update(overrides)
        return out


def validate_topic_configs(configs: dict[str, str | None]) -> dict[str, str]:
    """Check names and values of topic config overrides; raise ConfigError on the first bad one."""
    out = {}
    for name, value in configs.items():
        d = TOPIC_CONFIGS.get(name)
        if d is None:
            raise ConfigError(f"Unknown topic config name: {name}")
        if value is None:
            raise ConfigError(f"Null value not supported for topic config {name}")
        parse_named(d, name, value)
        out[name] = str(value)
    return out


def validate_broker_dynamic_configs(configs: dict[str, str | None]) -> dict[str, str]:
    """Check a broker's dynamic configs (AlterConfigs on the broker): names that may change at
    run time, values that parse; a None value drops the name. Raise ConfigError on the first
    bad one."""
    out = {}
    for name, value in configs.items():
        d = BROKER_CONFIGS.get(name)
        if d is None or d.read_only:
            raise ConfigError(f"Cannot update these configs dynamically: {name}")
        if value is not None:
            parse_named(d, name, value)
            out[name] = str(value)
    return out
