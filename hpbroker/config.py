"""Broker and topic configuration, with Kafka's property names (definitions: hpbroker/configdef).

A broker property's value comes from, in rising precedence: its default, the properties file
(``--config server.properties``) and command-line flags, the cluster-wide dynamic default
(AlterConfigs on the broker resource ""), this broker's dynamic value (AlterConfigs on its id).
Topic configs (``retention.ms`` ...) default to a broker property (``log.retention.ms`` ...)
and may be overridden per topic (CreateTopics, AlterConfigs). ``DescribeConfigs`` reports each
value with its source, as Kafka does.

Two readings of a property: ``value()`` is what Kafka would report (every layer);
``raw()``/``get()`` is what hpbroker runs with, which leaves out the dynamic layers of a property
whose dynamic value has no effect here (``listeners``, ``num.io.threads``: configdef STATIC_ONLY).

Who may touch: built once at start-up; afterwards only its dynamic layers change, replaced as a
whole by AlterConfigs on the broker (persisted with the topic registry) or by a process following
the registry the controller published.
"""

from __future__ import annotations

from hpbroker.configdef import BROKER_CONFIGS, TOPIC_CONFIGS
from hpbroker.configdef.checks import parse_connection_overrides
from hpbroker.configdef.dynamic import (
    DynamicConfigRefused,
    check_names,
    check_reconfiguration,
    check_values,
    definition,
)
from hpbroker.configdef.types import (
    APPLIED,
    TYPE_BOOLEAN,
    TYPE_DOUBLE,
    TYPE_INT,
    TYPE_LIST,
    TYPE_LONG,
    TYPE_SHORT,
    TYPE_STRING,
    TYPE_UNKNOWN,
    BrokerConfigDef,
    ConfigError,
    TopicConfigDef,
)

__all__ = [
    "BROKER_CONFIGS",
    "TOPIC_CONFIGS",
    "BrokerConfig",
    "BrokerConfigDef",
    "ConfigError",
    "DynamicConfigRefused",
    "TopicConfigDef",
    "parse_connection_overrides",
    "read_properties",
    "validate_broker_dynamic_configs",
    "validate_topic_configs",
    "TYPE_BOOLEAN",
    "TYPE_DOUBLE",
    "TYPE_INT",
    "TYPE_LIST",
    "TYPE_LONG",
    "TYPE_SHORT",
    "TYPE_STRING",
    "TYPE_UNKNOWN",
]

# DescribeConfigs config_source values (DescribeConfigsResponse.json)
SOURCE_TOPIC_CONFIG = 1
SOURCE_DYNAMIC_BROKER_CONFIG = 2
SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG = 3
SOURCE_STATIC_BROKER_CONFIG = 4
SOURCE_DEFAULT_CONFIG = 5


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


#: Properties Kafka also takes under another name (KafkaConfig.logRetentionTimeMillis,
#: logRollTimeMillis, logFlushIntervalMs, logDirs): when the property is not set, the first of
#: these that is set gives its value (times its factor; None: as it is). server.properties as
#: Kafka ships it sets ``log.retention.hours=168``; a file with ``log.retention.hours=24`` must
#: mean one day.
SYNONYMS: dict[str, tuple[tuple[str, int | None], ...]] = {
    "log.retention.ms": (("log.retention.minutes", 60_000), ("log.retention.hours", 3_600_000)),
    "log.roll.ms": (("log.roll.hours", 3_600_000),),
    "log.roll.jitter.ms": (("log.roll.jitter.hours", 3_600_000),),
    "log.flush.interval.ms": (("log.flush.scheduler.interval.ms", 1),),
    "log.dirs": (("log.dir", None),),
}


class BrokerConfig:
    """The broker's properties: default < static file/flags < cluster-wide dynamic < this
    broker's dynamic.

    The dynamic layers are replaced as a whole, never changed in place: assigning one bumps
    ``generation``, which is how caches of values derived from this config (the per-topic
    effective configs of metadata/topic_configs.py, the connection limits) know they are stale.
    """

    def __init__(self, static: dict[str, str] | None = None):
        self.static: dict[str, str] = {}
        self.generation = 0
        self._dynamic: dict[str, str] = {}
        self._dynamic_default: dict[str, str] = {}
        for name, value in (static or {}).items():
            d = BROKER_CONFIGS.get(name)
            if d is not None:
                d.parse(value)  # fail fast on a bad value, as Kafka fails to start
            self.static[name] = str(value)
        check_values(self)
        for name, t in TOPIC_CONFIGS.items():  # a topic default given through a synonym, checked too
            t.parse(self.topic_default(name)[0])

    # the dynamic layers ----------------------------------------------------------------------
    @property
    def dynamic(self) -> dict[str, str]:
        """This broker's dynamic configs (AlterConfigs on its id)."""
        return self._dynamic

    @dynamic.setter
    def dynamic(self, configs: dict[str, str]) -> None:
        self._dynamic = configs
        self.generation += 1

    @property
    def dynamic_default(self) -> dict[str, str]:
        """The cluster-wide dynamic defaults (AlterConfigs on the broker resource "")."""
        return self._dynamic_default

    @dynamic_default.setter
    def dynamic_default(self, configs: dict[str, str]) -> None:
        self._dynamic_default = configs
        self.generation += 1

    def follow(self, per_broker: dict[str, str], cluster_default: dict[str, str]) -> None:
        """Take both dynamic layers as published (the registry), bumping ``generation`` only if
        one changed."""
        if per_broker != self._dynamic:
            self.dynamic = dict(per_broker)
        if cluster_default != self._dynamic_default:
            self.dynamic_default = dict(cluster_default)

    def with_dynamic(self, configs: dict[str, str], per_broker: bool) -> BrokerConfig:
        """A copy of this config with one dynamic layer replaced (what a change would leave)."""
        trial = BrokerConfig.__new__(BrokerConfig)  # checked already: no __init__
        trial.static, trial.generation = self.static, 0
        trial._dynamic = configs if per_broker else self._dynamic
        trial._dynamic_default = self._dynamic_default if per_broker else configs
        return trial

    def _layers(self, name: str | None = None):
        """(source, dict) in precedence order; a read-only property's only layer is the static one
        (a dynamic value of it, left in a registry written before it was read-only, is ignored)."""
        d = BROKER_CONFIGS.get(name) if name is not None else None
        if d is not None and d.read_only:
            return ((SOURCE_STATIC_BROKER_CONFIG, self.static),)
        return (
            (SOURCE_DYNAMIC_BROKER_CONFIG, self._dynamic),
            (SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG, self._dynamic_default),
            (SOURCE_STATIC_BROKER_CONFIG, self.static),
        )

    # reading -----------------------------------------------------------------------------------
    def unused_names(self) -> list[str]:
        """Static properties hpbroker does not define (a typo, or a Kafka setting with no meaning
        here, e.g. zookeeper.connect): the start-up log names them instead of ignoring them
        silently, as Kafka logs "supplied but isn't a known config"."""
        return sorted(n for n in self.static if definition(n) is None)

    def given(self, name: str) -> bool:
        """Set statically or dynamically (not a default)."""
        return any(name in layer for _, layer in self._layers(name))

    def from_synonym(self, name: str) -> tuple[str, str] | None:
        """(value, the property it came from) of a property not given itself but through a
        synonym (log.retention.hours for log.retention.ms), or None."""
        for synonym, factor in SYNONYMS.get(name, ()):
            if self.given(synonym):
                value = self.value(synonym)
                if factor is None:
                    return value, synonym
                ms = int(str(value).strip()) * factor
                if name == "log.retention.ms" and ms < 0:
                    ms = -1  # any negative retention is "unlimited" (Kafka)
                return str(ms), synonym
        return None

    def value_and_source(self, name: str) -> tuple[str | None, int]:
        """The value Kafka would report, and its DescribeConfigs source."""
        for source, layer in self._layers(name):
            if name in layer:
                return layer[name], source
        derived = self.from_synonym(name)
        if derived is not None:
            return derived[0], self.value_and_source(derived[1])[1]
        d = BROKER_CONFIGS.get(name)
        return (d.default if d is not None else None), SOURCE_DEFAULT_CONFIG

    def value(self, name: str) -> str | None:
        """The value Kafka would report (a name hpbroker does not define: as given, else None)."""
        return self.value_and_source(name)[0]

    def source(self, name: str) -> int:
        return self.value_and_source(name)[1]

    def raw(self, name: str) -> str | None:
        """The value hpbroker runs with: the dynamic layers count only for a property whose
        dynamic value applies here."""
        d = BROKER_CONFIGS.get(name)
        if d is None or d.effect == APPLIED:
            return self.value(name)
        static_only = BrokerConfig.__new__(BrokerConfig)
        static_only.static, static_only._dynamic, static_only._dynamic_default = self.static, {}, {}
        return static_only.value(name)

    def get(self, name: str):
        """The parsed value hpbroker runs with (None: not set and no default)."""
        d = BROKER_CONFIGS.get(name)
        value = self.raw(name)
        return d.parse(value) if d is not None and value is not None else value

    def synonyms(self, name: str, cluster_default_only: bool = False) -> list[tuple[str, str | None, int]]:
        """[(name, value, source)] of a broker property, in precedence order (DescribeConfigs
        include_synonyms): each layer that sets it, the synonym it came from, its default."""
        out = [(name, layer[name], source) for source, layer in self._layers(name) if name in layer]
        if cluster_default_only:
            return [s for s in out if s[2] == SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG]
        derived = self.from_synonym(name) if not out else None
        if derived is not None:
            out.append((derived[1], self.value(derived[1]), self.source(derived[1])))
        d = BROKER_CONFIGS.get(name)
        if d is not None and d.default is not None:
            out.append((name, d.default, SOURCE_DEFAULT_CONFIG))
        return out

    # topic configs -------------------------------------------------------------------------
    def topic_default(self, name: str) -> tuple[str, int]:
        """(value, source) of topic config ``name`` when the topic does not override it."""
        d = TOPIC_CONFIGS[name]
        prop = d.broker_property
        if prop and (self.given(prop) or self.from_synonym(prop) is not None):
            value, source = self.value_and_source(prop)
            if prop == "log.retention.ms" and int(value) < 0:
                value = "-1"  # any negative retention is "unlimited" (Kafka)
            return value, source
        return d.default, SOURCE_DEFAULT_CONFIG

    def topic_synonyms(self, name: str) -> list[tuple[str, str | None, int]]:
        """[(name, value, source)] behind a topic's value of ``name`` when it has no override of
        its own: the broker property (or the synonym it was given as), then its default."""
        d = TOPIC_CONFIGS[name]
        prop = d.broker_property
        out = []
        if prop:
            out = [(prop, layer[prop], source) for source, layer in self._layers(prop) if prop in layer]
            derived = self.from_synonym(prop) if not out else None
            if derived is not None:
                out.append((derived[1], self.value(derived[1]), self.source(derived[1])))
        return out + [(prop or name, d.default, SOURCE_DEFAULT_CONFIG)]

    def effective_topic_config(self, overrides: dict[str, str]) -> dict[str, str]:
        out = {name: self.topic_default(name)[0] for name in TOPIC_CONFIGS}
        out.update(overrides)
        return out


def validate_topic_configs(configs: dict[str, str | None], broker: BrokerConfig | None = None) -> dict[str, str]:
    """Check names and values of topic config overrides, as Kafka's LogConfig.validate; raise
    ConfigError on the first bad one. With ``broker``, also the checks across configs on the
    topic's whole config (min.compaction.lag.ms <= max.compaction.lag.ms)."""
    out = {}
    for name, value in configs.items():
        d = TOPIC_CONFIGS.get(name)
        if d is None:
            raise ConfigError(f"Unknown topic config name: {name}")
        if value is None:
            raise ConfigError(f"Null value not supported for topic config {name}")
        d.parse(value)
        out[name] = str(value)
    effective = (
        broker.effective_topic_config(out)
        if broker is not None
        else {name: out.get(name, d.default) for name, d in TOPIC_CONFIGS.items()}
    )
    low, high = (int(effective[n]) for n in ("min.compaction.lag.ms", "max.compaction.lag.ms"))
    if low > high:
        raise ConfigError(
            f"conflict topic config setting min.compaction.lag.ms ({low}) > max.compaction.lag.ms ({high})"
        )
    return out


def validate_broker_dynamic_configs(
    config: BrokerConfig, configs: dict[str, str | None], per_broker: bool = True
) -> dict[str, str]:
    """Check a broker resource's dynamic configs as AlterConfigs would leave them (this broker's
    with ``per_broker``, else the cluster-wide defaults of resource ""): names that may change
    there, values, and the config they would leave as a whole. A None value drops the name.
    DynamicConfigRefused (INVALID_REQUEST, Kafka's text) on the first problem."""
    new = {name: str(value) for name, value in configs.items() if value is not None}
    check_names(new, per_broker)
    trial = config.with_dynamic(new, per_broker)
    try:
        check_values(trial)
    except DynamicConfigRefused:
        raise
    except ConfigError as exc:
        raise DynamicConfigRefused(str(exc)) from None
    current = config.dynamic if per_broker else config.dynamic_default
    changed = {n for n in set(new) | set(current) if new.get(n) != current.get(n)}
    check_reconfiguration(config, trial, changed)
    return new
