"""What a config definition is, and how a value is read and checked, as Kafka's ConfigDef does.

A value is read by its type first (``parse_type``: Kafka's ConfigDef.parseType, the value
trimmed), then checked by the definition's validator (a ``Check``: Kafka's ConfigDef.Validator).
Refusals are ConfigError with Kafka's text, "Invalid value X for configuration NAME: reason",
so a client sees the reason Kafka would give.

A definition also says what hpbroker does with the config (``effect``) and, for a broker
property, whether and where it may change at run time (``mode``: Kafka's update modes).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# ConfigType values of DescribeConfigs v3+ (DescribeConfigsResponse.ConfigType)
TYPE_UNKNOWN, TYPE_BOOLEAN, TYPE_STRING, TYPE_INT, TYPE_SHORT, TYPE_LONG, TYPE_DOUBLE = 0, 1, 2, 3, 4, 5, 6
TYPE_LIST, TYPE_CLASS, TYPE_PASSWORD = 7, 8, 9
TYPE_NAMES = {
    TYPE_UNKNOWN: "unknown",
    TYPE_BOOLEAN: "boolean",
    TYPE_STRING: "string",
    TYPE_INT: "int",
    TYPE_SHORT: "short",
    TYPE_LONG: "long",
    TYPE_DOUBLE: "double",
    TYPE_LIST: "list",
    TYPE_CLASS: "class",
    TYPE_PASSWORD: "password",
}
_INTEGER_BITS = {TYPE_SHORT: 16, TYPE_INT: 32, TYPE_LONG: 64}

# Update modes of a broker property (Kafka's DynamicBrokerConfig.dynamicConfigUpdateModes)
READ_ONLY = "read-only"  # set in the properties file only
PER_BROKER = "per-broker"  # AlterConfigs on the broker's own id
CLUSTER_WIDE = "cluster-wide"  # on the broker's id, or on "" (the cluster-wide default)

# What hpbroker does with a config
APPLIED = "applied"  # hpbroker acts on it (a dynamic change applies at run time)
STATIC_ONLY = "static only"  # acted on from the properties file; a dynamic value is kept, not applied
NO_EFFECT = "none"  # accepted, checked, stored and reported as Kafka does; nothing here acts on it

MAX_INT = 2**31 - 1
MAX_LONG = 2**63 - 1


class ConfigError(ValueError):
    """An invalid config name or value (Kafka error INVALID_CONFIG), with Kafka's text."""


def invalid(name: str, value, reason: str | None) -> ConfigError:
    """Kafka's ConfigException(name, value, message)."""
    return ConfigError(f"Invalid value {value} for configuration {name}" + (f": {reason}" if reason else ""))


_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_JAVA_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)[fFdD]?\Z")
_LIST_SEPARATOR = re.compile(r"\s*,\s*")
_JAVA_CLASS = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*\Z")


def split_list(value: str) -> list[str]:
    """A LIST value as Kafka splits it: on commas with any spaces around them; empty = []."""
    s = str(value).strip()
    return _LIST_SEPARATOR.split(s) if s else []


def parse_type(name: str, value: str, config_type: int):
    """Kafka's ConfigDef.parseType for a string value: bool, int, float, str, or list of str."""
    s = str(value).strip()
    if config_type == TYPE_BOOLEAN:
        if s.lower() in ("true", "false"):
            return s.lower() == "true"
        raise invalid(name, value, "Expected value to be either true or false")
    if config_type in _INTEGER_BITS:
        bits = _INTEGER_BITS[config_type]
        n = int(s) if _JAVA_INTEGER.match(s) else None
        if n is None or not -(1 << (bits - 1)) <= n < 1 << (bits - 1):
            raise invalid(name, value, f"Not a number of type {TYPE_NAMES[config_type].upper()}")
        return n
    if config_type == TYPE_DOUBLE:
        if not _JAVA_DOUBLE.match(s):
            raise invalid(name, value, "Not a number of type DOUBLE")
        return float(s.rstrip("fFdD").replace("Infinity", "inf"))
    if config_type == TYPE_LIST:
        return split_list(s)
    if config_type == TYPE_CLASS and not _JAVA_CLASS.match(s):
        raise invalid(name, value, f"Class {value} could not be found.")
    return s  # STRING, PASSWORD, CLASS


def format_value(value, config_type: int) -> str:
    """A parsed value back as text (Kafka's ConfigDef.convertToString)."""
    if config_type == TYPE_LIST:
        return ",".join(value)
    if config_type == TYPE_BOOLEAN:
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Check:
    """A validator: ``text`` is what the documentation shows as valid values, ``test`` returns
    the reason a parsed value is refused (None: valid)."""

    text: str
    #: the reason, or (the offending part of the value, the reason): a list names the element
    test: Callable[[object], str | tuple[str, str] | None]


def _number(n) -> str:
    return str(n) if not isinstance(n, float) or n != int(n) else str(int(n)) if abs(n) < 1e15 else str(n)


def at_least(low) -> Check:
    return Check(f"[{_number(low)},...]", lambda v: None if v >= low else f"Value must be at least {_number(low)}")


def between(low, high) -> Check:
    def test(v):
        if v < low:
            return f"Value must be at least {_number(low)}"
        return None if v <= high else f"Value must be no more than {_number(high)}"

    return Check(f"[{_number(low)},...,{_number(high)}]", test)


def one_of(*allowed: str) -> Check:
    """Kafka's ValidString.in."""
    joined = ", ".join(allowed)
    return Check(f"[{joined}]", lambda v: None if v in allowed else f"String must be one of: {joined}")


def one_of_ignoring_case(*allowed: str) -> Check:
    """Kafka's CaseInsensitiveValidString.in."""
    joined = ", ".join(allowed)
    lower = {a.lower() for a in allowed}
    return Check(
        f"(case insensitive) [{joined}]",
        lambda v: None if v.lower() in lower else f"String must be one of (case insensitive): {joined}",
    )


def each_of(*allowed: str) -> Check:
    """Kafka's ValidList.in: every element one of ``allowed`` (an empty list is valid)."""
    joined = ", ".join(allowed)
    return Check(
        f"[{joined}]",
        lambda items: next(((i, f"String must be one of: {joined}") for i in items if i not in allowed), None),
    )


def also(first: Check, then: Callable[[object], str | tuple[str, str] | None], text: str | None = None) -> Check:
    """``first``, then a further test of the value it passed."""
    return Check(text or first.text, lambda v: first.test(v) or then(v))


@dataclass(frozen=True)
class ConfigDef:
    """One config, as Kafka's ConfigDef.ConfigKey: name, type, default (None: no value unless
    set), validator and documentation; ``effect`` says what hpbroker does with it."""

    name: str
    config_type: int
    default: str | None
    doc: str
    check: Check | None = None
    effect: str = APPLIED

    def parse_value(self, value: str):
        """The typed value (a list for LIST); ConfigError as Kafka words it."""
        v = parse_type(self.name, value, self.config_type)
        reason = self.check.test(v) if self.check is not None else None
        if reason is None:
            return v
        if isinstance(reason, tuple):
            shown, reason = reason
        else:
            shown = f"[{', '.join(v)}]" if isinstance(v, list) else v
        raise invalid(self.name, shown, reason)

    def parse(self, value: str):
        """The typed value, a LIST as its normalized text ("a,b")."""
        v = self.parse_value(value)
        return ",".join(v) if isinstance(v, list) else v

    @property
    def sensitive(self) -> bool:
        """Its value is never shown (DescribeConfigs answers null, as Kafka does for passwords)."""
        return self.config_type == TYPE_PASSWORD

    @property
    def valid_values(self) -> str:
        return self.check.text if self.check is not None else ""


@dataclass(frozen=True)
class TopicConfigDef(ConfigDef):
    #: the broker property whose value is this config's default (Kafka's topic config synonym)
    broker_property: str | None = None


@dataclass(frozen=True)
class BrokerConfigDef(ConfigDef):
    mode: str = READ_ONLY

    @property
    def read_only(self) -> bool:
        return self.mode == READ_ONLY
