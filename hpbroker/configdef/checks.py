"""Kafka's validators for configs whose values have a syntax of their own: Kafka versions,
throttled-replica lists, connection-limit overrides, listeners."""

from __future__ import annotations

import re

from hpbroker.configdef.types import Check, ConfigError, split_list

# Kafka's MetadataVersion (3.9): every inter-broker protocol version a 3.x broker takes, oldest
# first; a release without a suffix stands for its last IV.
_RELEASE_IVS = (
    ("0.8.0", 0),
    ("0.8.1", 0),
    ("0.8.2", 0),
    ("0.9.0", 0),
    ("0.10.0", 2),
    ("0.10.1", 3),
    ("0.10.2", 1),
    ("0.11.0", 3),
    ("1.0", 1),
    ("1.1", 1),
    ("2.0", 2),
    ("2.1", 3),
    ("2.2", 2),
    ("2.3", 2),
    ("2.4", 2),
    ("2.5", 1),
    ("2.6", 1),
    ("2.7", 3),
    ("2.8", 2),
    ("3.0", 2),
    ("3.1", 1),
    ("3.2", 1),
    ("3.3", 4),
    ("3.4", 1),
    ("3.5", 3),
    ("3.6", 3),
    ("3.7", 5),
    ("3.8", 1),
    ("3.9", 1),
)
METADATA_VERSIONS = tuple(
    release if ivs == 0 else f"{release}-IV{i}" for release, ivs in _RELEASE_IVS for i in range(max(ivs, 1))
)
_VERSION_KEYS = frozenset(METADATA_VERSIONS) | {release for release, _ in _RELEASE_IVS}


def metadata_version_reason(value: str) -> str | None:
    """Kafka's MetadataVersion.fromVersionString: the first three dot-separated parts of a 0.x
    version count ("0.10.0.1" is 0.10.0), the first two of a later one ("2.8.1" is 2.8)."""
    parts = value.split(".")
    key = ".".join(parts[: 3 if value.startswith("0.") else 2])
    return None if key in _VERSION_KEYS else f"Version {value} is not a valid version"


metadata_version = Check(
    f"a Kafka version, {METADATA_VERSIONS[0]} to {METADATA_VERSIONS[-1]} (e.g. 0.10.0, 2.8, "
    "3.0-IV1); more parts than these are ignored",
    metadata_version_reason,
)

_REPLICA = re.compile(r"([0-9]+:[0-9]+)?\Z")


def throttled_replicas(name: str) -> Check:
    """Kafka's ThrottledReplicaListValidator: ``*``, or partition:broker pairs."""

    def test(items):
        if all(_REPLICA.match(i.strip()) for i in items) or "".join(items) == "*":
            return None
        return (
            f"[{', '.join(items)}]",
            f"{name} must be the literal '*' or a list of replicas in the following "
            "format: [partitionId]:[brokerId],[partitionId]:[brokerId],...",
        )

    return Check("[partitionId]:[brokerId],[partitionId]:[brokerId],...", test)


def tiered_storage_off(enabled: bool) -> str | None:
    return (
        ("Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.")
        if enabled
        else None
    )


_HOST = re.compile(r"[0-9a-zA-Z\-%._:]*\Z")


def parse_connection_overrides(value: str) -> list[tuple[str, int]]:
    """max.connections.per.ip.overrides, ``host:count,host:count`` -> [(host, count)], as Kafka
    reads it: the count is after the last colon (an IPv6 host in brackets or not)."""
    out = []
    for entry in split_list(value):
        host, sep, count = entry.rpartition(":")
        host = host.strip().strip("[]")
        try:
            n = int(count.strip())
        except ValueError:
            n = -1
        if not sep or not host or n < 0:
            raise ConfigError(
                f"Error parsing configuration property 'max.connections.per.ip.overrides': each "
                f"entry is host:count with a count >= 0, got {entry!r}"
            )
        if not _HOST.match(host):
            raise ConfigError(f"max.connections.per.ip.overrides contains invalid addresses : {host}")
        out.append((host, n))
    return out


def _overrides_reason(value: str) -> str | None:
    try:
        parse_connection_overrides(value)
    except ConfigError as exc:
        return str(exc)
    return None


connection_overrides = Check("host:count,host:count,...", _overrides_reason)

# Kafka's EndPoint.uriParseExp
_ENDPOINT = re.compile(r"(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)\Z")


def parse_listeners(value: str) -> list[tuple[str, str, int]]:
    """``NAME://host:port,...`` -> [(NAME upper-cased, host, port)]; ConfigError as Kafka's
    EndPoint parser words it."""
    out = []
    for entry in split_list(value):
        m = _ENDPOINT.match(entry)
        if m is None:
            raise ConfigError(f"Unable to parse {entry} to a broker endpoint")
        out.append((m.group(1).upper(), m.group(2), int(m.group(3))))
    names = [n for n, _, _ in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"Each listener must have a different name, listeners: {value}")
    return out


def _listeners_reason(value: str) -> str | None:
    try:
        parse_listeners(",".join(value) if isinstance(value, list) else value)
    except ConfigError as exc:
        return str(exc)
    return None


listeners = Check("NAME://host:port,...", _listeners_reason)

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def parse_protocol_map(value: str) -> dict[str, str]:
    """listener.security.protocol.map, ``NAME:PROTOCOL,...`` -> {NAME: PROTOCOL}."""
    out = {}
    for entry in split_list(value):
        name, sep, protocol = entry.rpartition(":")
        if not sep or not name.strip() or protocol.strip().upper() not in SECURITY_PROTOCOLS:
            raise ConfigError(
                f"Error while parsing the listener security protocol map {value}: {entry!r} is not "
                f"NAME:PROTOCOL with a protocol of {', '.join(SECURITY_PROTOCOLS)}"
            )
        out[name.strip().upper()] = protocol.strip().upper()
    return out


def _protocol_map_reason(value: str) -> str | None:
    try:
        parse_protocol_map(value)
    except ConfigError as exc:
        return str(exc)
    return None


protocol_map = Check("NAME:PROTOCOL,...", _protocol_map_reason)


def _security_protocol_reason(value: str) -> str | None:
    if str(value).strip().upper() not in SECURITY_PROTOCOLS:
        return f"No enum constant org.apache.kafka.common.security.auth.SecurityProtocol.{value}"
    return None


security_protocol = Check(f"[{', '.join(SECURITY_PROTOCOLS)}]", _security_protocol_reason)


def _mapping_rules_reason(value: str) -> str | None:
    from hpbroker.security.principal_mapping import parse_rules

    try:
        parse_rules(value)
    except ConfigError as exc:
        return str(exc)
    return None


principal_mapping_rules = Check("RULE:pattern/replacement/[L|U],...,DEFAULT", _mapping_rules_reason)
