"""What AlterConfigs and IncrementalAlterConfigs on a BROKER resource may change, and Kafka's
answer when they may not (Kafka 3.6's DynamicBrokerConfig.validate and the KafkaConfig checks it
runs on the config a change would leave).

A change is checked in Kafka's order:
1. names (``check_names``): a property Kafka cannot change at run time -> "Cannot update these
   configs dynamically: Set(broker.id)"; an ``ssl.keystore.*``-like one without a listener prefix
   -> "These security configs can be dynamically updated only per-listener ..."; every value by
   its type and validator; a per-broker property on the cluster-wide resource "" -> "Cannot update
   these configs at default cluster level, broker id must be specified: Set(...)".
2. the config the change would leave, as a whole (``check_values``): Kafka's KafkaConfig
   requirements ("requirement failed: max.connections.per.ip can be set to zero only if ...").
   The same checks run on the properties file at start-up.
3. what Kafka's reconfigurable components check of a changed value (``check_reconfiguration``:
   thread counts within half and double of the current one ...), in Kafka's wrapped words.

Kafka answers every such refusal with INVALID_REQUEST (its ConfigAdminManager, KAFKA-13609), so
they are ``DynamicConfigRefused``. A name Kafka does not know at all is a custom config: stored
and reported, as Kafka stores those for plugins.
"""

from __future__ import annotations

import re
from typing import Protocol

from hpbroker.configdef import BROKER_CONFIGS
from hpbroker.configdef.broker_kafka import CLUSTER_LEVEL_LISTENER_CONFIGS, LISTENER_ONLY
from hpbroker.configdef.checks import parse_connection_overrides, parse_listeners, parse_protocol_map
from hpbroker.configdef.kafka_names import KAFKA_BROKER_CONFIG_NAMES
from hpbroker.configdef.types import PER_BROKER, BrokerConfigDef, ConfigError

LISTENER_CONFIG = re.compile(r"listener\.name\.([^.]*)\.(.*)\Z")


class DynamicConfigRefused(ConfigError):
    """A broker config change Kafka refuses; the client sees INVALID_REQUEST with this text."""


class ConfigValues(Protocol):
    """The broker config a check looks at (hpbroker.config.BrokerConfig)."""

    def value(self, name: str) -> str | None:
        """The value Kafka would report: this broker's dynamic, the cluster's, static, default."""


def definition(name: str) -> BrokerConfigDef | None:
    """The definition of a broker property, or of the base of ``listener.name.<l>.<base>``."""
    d = BROKER_CONFIGS.get(name)
    if d is None:
        m = LISTENER_CONFIG.match(name)
        if m is not None:
            d = BROKER_CONFIGS.get(m.group(2))
    return d


def is_dynamic(name: str) -> bool:
    """May change at run time: a dynamic property, a listener-prefixed one, or a custom name."""
    d = BROKER_CONFIGS.get(name)
    if d is not None:
        return not d.read_only
    return name not in KAFKA_BROKER_CONFIG_NAMES


def is_per_broker(name: str) -> bool:
    m = LISTENER_CONFIG.match(name)
    if m is not None:
        return m.group(2) not in CLUSTER_LEVEL_LISTENER_CONFIGS
    d = BROKER_CONFIGS.get(name)
    return d is not None and (d.mode == PER_BROKER or name in LISTENER_ONLY)


def scala_set(names) -> str:
    return f"Set({', '.join(sorted(names))})"


def check_names(props: dict[str, str], per_broker: bool) -> None:
    """Kafka's DynamicBrokerConfig.validateConfigs: names that may change (here: on this
    resource), values by type and validator."""
    fixed = [n for n in props if not is_dynamic(n)]
    if fixed:
        raise DynamicConfigRefused(f"Cannot update these configs dynamically: {scala_set(fixed)}")
    security = [n for n in props if n in LISTENER_ONLY]
    if security:
        raise DynamicConfigRefused(
            "These security configs can be dynamically updated only per-listener using "
            f"the listener prefix: {scala_set(security)}"
        )
    for name, value in props.items():
        d = definition(name)
        if d is not None:
            try:
                d.parse(value)
            except ConfigError as exc:
                raise DynamicConfigRefused(str(exc)) from None
    if not per_broker:
        local = [n for n in props if is_per_broker(n)]
        if local:
            raise DynamicConfigRefused(
                f"Cannot update these configs at default cluster level, broker id must be specified: {scala_set(local)}"
            )


def _int(config: ConfigValues, name: str) -> int | None:
    v = config.value(name)
    return None if v is None else int(str(v).strip())


def check_values(config: ConfigValues) -> None:
    """Kafka's KafkaConfig requirements across properties (validateValues), on the values Kafka
    would run with; ConfigError "requirement failed: ..." as Kafka's IllegalArgumentException."""

    def require(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(f"requirement failed: {message}")

    require(
        _int(config, "log.retention.ms") != 0, "log.retention.ms must be unlimited (-1) or, greater than or equal to 1"
    )
    dirs = config.value("log.dirs") or config.value("log.dir") or ""
    require(
        any(d.strip() for d in dirs.split(",")), "At least one log directory must be defined via log.dirs or log.dir."
    )
    threads = _int(config, "log.cleaner.threads")
    if threads == 0:
        raise ConfigError("/ by zero")  # Kafka divides the dedupe buffer by the thread count
    require(
        _int(config, "log.cleaner.dedupe.buffer.size") // threads > 1024 * 1024,
        "log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread.",
    )
    overrides = parse_connection_overrides(config.value("max.connections.per.ip.overrides") or "")
    require(
        _int(config, "max.connections.per.ip") != 0 or bool(overrides),
        "max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides property is set.",
    )
    _check_listeners(config, require)


def _check_listeners(config: ConfigValues, require) -> None:
    protocols = parse_protocol_map(config.value("listener.security.protocol.map") or "")
    listeners = parse_listeners(config.value("listeners") or "")
    for name, _, _ in listeners:
        if name not in protocols:
            raise ConfigError(f"No security protocol defined for listener {name}")
    advertised_value = config.value("advertised.listeners")
    advertised = parse_listeners(advertised_value) if advertised_value is not None else listeners
    for name, _, _ in advertised:
        if name not in protocols:
            raise ConfigError(f"No security protocol defined for listener {name}")
    names = [n for n, _, _ in listeners]
    advertised_names = [n for n, _, _ in advertised]
    inter_broker = (
        (config.value("inter.broker.listener.name") or config.value("security.inter.broker.protocol") or "PLAINTEXT")
        .strip()
        .upper()
    )
    require(
        inter_broker in advertised_names,
        "inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options "
        f"based on currently configured listeners are {','.join(advertised_names)}",
    )
    require(
        set(advertised_names) <= set(names),
        "advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. "
        f"Found {','.join(advertised_names)}. The valid options based on the current configuration are "
        f"{','.join(names)}",
    )
    require(
        all(host != "0.0.0.0" for _, host, _ in advertised),
        "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.",
    )


THREAD_POOLS = (
    "num.io.threads",
    "num.replica.fetchers",
    "num.recovery.threads.per.data.dir",
    "background.threads",
    "num.network.threads",
)
LOG_CONFIGS = frozenset(t for t in (d.name for d in BROKER_CONFIGS.values()) if t.startswith("log.")) - {
    "log.cleaner.threads",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    "log.cleaner.io.max.bytes.per.second",
    "log.cleaner.backoff.ms",
}


def check_reconfiguration(current: ConfigValues, new: ConfigValues, changed: set[str]) -> None:
    """What Kafka's reconfigurable components check of a change (thread pools, the log cleaner,
    the log defaults), wrapped as Kafka's processReconfiguration wraps it."""
    try:
        _reconfigure(current, new, changed)
    except ConfigError as exc:
        raise DynamicConfigRefused(
            f"Invalid value org.apache.kafka.common.config.ConfigException: {exc} for "
            "configuration Invalid dynamic configuration"
        ) from None


def _reconfigure(current: ConfigValues, new: ConfigValues, changed: set[str]) -> None:
    for name in THREAD_POOLS:
        old, value = _int(current, name), _int(new, name)
        if name not in changed or value is None or value == old:
            continue
        message = f"Dynamic thread count update validation failed for {name}={value}"
        if value <= 0:
            raise ConfigError(f"{message}, value should be at least 1")
        if old:  # unset (one per core) or 0 (in-process): no current count to compare with
            if value < old // 2:
                raise ConfigError(f"{message}, value should be at least half the current value {old}")
            if value > old * 2:
                raise ConfigError(f"{message}, value should not be greater than double the current value {old}")
    if "log.cleaner.threads" in changed:
        old, value = _int(current, "log.cleaner.threads"), _int(new, "log.cleaner.threads")
        if value < 1:
            raise ConfigError("Log cleaner threads should be at least 1")
        if value < old // 2:
            raise ConfigError(f"Log cleaner threads cannot be reduced to less than half the current value {old}")
        if value > old * 2:
            raise ConfigError(f"Log cleaner threads cannot be increased to more than double the current value {old}")
    if changed & LOG_CONFIGS:
        for local, total in (
            ("log.local.retention.ms", "log.retention.ms"),
            ("log.local.retention.bytes", "log.retention.bytes"),
        ):
            limit, value = _int(new, total), _int(new, local)
            if total.endswith(".ms") and limit < 0:
                limit = -1  # any negative retention is unlimited (Kafka's logRetentionTimeMillis)
            if (limit != -1 if total.endswith(".ms") else limit > -1) and value != -2:
                if value == -1:
                    raise ConfigError(
                        f"Invalid value -1 for configuration {local}: Value must not be -1 as {total} "
                        f"value is set as {limit}."
                    )
                if value > limit:
                    raise ConfigError(
                        f"Invalid value {value} for configuration {local}: Value must not be more "
                        f"than {total} property value: {limit}"
                    )
