"""Listeners as Kafka configures them: where the broker listens, with which security protocol,
what it advertises for each, and which one the brokers use among themselves.

    listeners=PLAINTEXT://:9092,SSL://:9093,INTERNAL://10.0.0.5:9094
    listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,INTERNAL:SASL_SSL
    advertised.listeners=PLAINTEXT://broker1:9092,SSL://broker1:9093,INTERNAL://10.0.0.5:9094
    inter.broker.listener.name=INTERNAL         # or security.inter.broker.protocol=SASL_SSL

A listener's name selects its security protocol through the map (Kafka's default map names each
protocol after itself) and prefixes its own settings: ``listener.name.<name>.<property>``
(lower-case name) wins over ``<property>`` (``listener_value``). Metadata answers each client
with the advertised endpoint of the listener its connection came in on; a listener missing from
``advertised.listeners`` is not advertised (Kafka's rule: advertised names are a subset of the
listeners), and ``advertised.listeners`` unset advertises each listener's own address, with the
port it was bound to (port 0 asks for any free one) and the machine's host name for an empty
or wildcard host.

Everything here is parsing and naming, no sockets: the in-process server, the supervisor, the
processors and the cluster's inter-broker connections all build from ``ListenerConfig``.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from hpbroker.broker.request import Session
from hpbroker.configdef.checks import parse_listeners, parse_protocol_map
from hpbroker.configdef.types import ConfigError

log = logging.getLogger("hpbroker")

PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL = "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"
TLS_PROTOCOLS = frozenset({SSL, SASL_SSL})
SASL_PROTOCOLS = frozenset({SASL_PLAINTEXT, SASL_SSL})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True)
class Listener:
    """One entry of ``listeners`` (or ``advertised.listeners``): its name, address and protocol."""

    name: str
    host: str  # "" = every interface
    port: int  # 0 = any free port, until bound
    security_protocol: str

    @property
    def tls(self) -> bool:
        return self.security_protocol in TLS_PROTOCOLS

    @property
    def sasl(self) -> bool:
        return self.security_protocol in SASL_PROTOCOLS

    @property
    def prefix(self) -> str:
        """Kafka's ListenerName.configPrefix: ``listener.name.<name lower-cased>.``"""
        return f"listener.name.{self.name.lower()}."

    def bound(self, port: int) -> Listener:
        return Listener(self.name, self.host, port, self.security_protocol)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.name}://{host}:{self.port}"


@dataclass(frozen=True)
class ListenerConfig:
    listeners: tuple[Listener, ...]
    advertised: tuple[Listener, ...]
    inter_broker_listener_name: str

    def listener(self, name: str) -> Listener:
        return next(lst for lst in self.listeners if lst.name == name)

    @property
    def inter_broker(self) -> Listener:
        """The listener other brokers reach this one on (replica fetches, controller requests),
        as advertised."""
        return next(a for a in self.advertised if a.name == self.inter_broker_listener_name)

    def bound(self, ports: dict[str, int]) -> ListenerConfig:
        """This configuration once each listener is bound: port 0 replaced by the port the
        kernel gave (``ports``: listener name -> bound port), in the listeners and in what is
        advertised for them when ``advertised.listeners`` did not say."""
        listeners = tuple(lst.bound(ports.get(lst.name, lst.port)) for lst in self.listeners)
        advertised = tuple(a.bound(ports.get(a.name, a.port)) if a.port == 0 else a for a in self.advertised)
        return ListenerConfig(listeners, advertised, self.inter_broker_listener_name)

    def console_listener(self) -> Listener:
        """Where the metrics endpoint listens and its web console's own Kafka client connects:
        the first PLAINTEXT listener (that client has no credentials), else the first listener,
        with a warning that the console's pages will not reach the broker."""
        plain = next((lst for lst in self.listeners if lst.security_protocol == PLAINTEXT), None)
        if plain is None:
            log.warning(
                "the web console needs a PLAINTEXT listener to ask the broker; its pages will say the "
                "broker cannot be reached (/metrics is not affected)"
            )
            return self.listeners[0]
        return plain

    def protocols(self) -> dict[str, str]:
        """Listener name -> security protocol, of every advertised listener (a broker's
        registration in ZooKeeper carries it)."""
        return {a.name: a.security_protocol for a in self.advertised}

    def endpoints(self) -> tuple[tuple[str, str, int], ...]:
        """(listener name, host, port) of every advertised listener, wildcard hosts resolved to
        this machine's name: what Metadata gives clients."""
        return tuple(
            (a.name, socket.gethostname() if a.host in WILDCARD_HOSTS else a.host, a.port) for a in self.advertised
        )


def from_config(config) -> ListenerConfig:
    """The listeners of ``config`` (a BrokerConfig), checked as Kafka checks them at start-up;
    ConfigError says what is wrong."""
    protocols = parse_protocol_map(config.get("listener.security.protocol.map") or "")

    def parse(value: str, what: str) -> tuple[Listener, ...]:
        out = []
        for name, host, port in parse_listeners(value):
            protocol = protocols.get(name)
            if protocol is None:
                raise ConfigError(f"No security protocol defined for listener {name} ({what})")
            out.append(Listener(name, host, port, protocol))
        return tuple(out)

    listeners = parse(config.get("listeners") or "", "listeners")
    if not listeners:
        raise ConfigError("listeners must name at least one listener")
    ports = [lst.port for lst in listeners if lst.port != 0]
    if len(set(ports)) != len(ports):
        raise ConfigError(f"Each listener must have a different port, listeners: {config.get('listeners')}")
    adv_value = config.get("advertised.listeners")
    advertised = parse(adv_value, "advertised.listeners") if adv_value else listeners
    names = {lst.name for lst in listeners}
    unknown = [a.name for a in advertised if a.name not in names]
    if unknown:
        raise ConfigError(
            "advertised.listeners listener names must be equal to or a subset of the ones defined in "
            f"listeners. Found {','.join(unknown)}"
        )
    return ListenerConfig(listeners, advertised, inter_broker_listener_name(config, protocols))


def inter_broker_listener_name(config, protocols: dict[str, str] | None = None) -> str:
    """``inter.broker.listener.name``, else the listener named after
    ``security.inter.broker.protocol`` (Kafka's default: PLAINTEXT); both set is an error, as in
    Kafka."""
    name = config.get("inter.broker.listener.name")
    protocol = config.get("security.inter.broker.protocol")
    if name and config.given("security.inter.broker.protocol"):
        raise ConfigError("Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.")
    return (name or protocol or PLAINTEXT).strip().upper()


def listener_value(config, listener: Listener | None, name: str):
    """``listener.name.<listener>.<name>`` if set, else ``name``: parsed by ``name``'s
    definition (Kafka's valuesWithPrefixOverride)."""
    if listener is not None:
        prefixed = config.value(listener.prefix + name)
        if prefixed is not None:
            from hpbroker.configdef import BROKER_CONFIGS

            d = BROKER_CONFIGS.get(name)
            return d.parse(prefixed) if d is not None else prefixed
    return config.get(name)


def first_listener_address(value: str) -> tuple[str, int]:
    """'PLAINTEXT://host:port,...' -> (host, port) of the first; "" host = every interface."""
    entries = parse_listeners(value)
    if not entries:
        raise ConfigError("listeners must name at least one listener")
    _, host, port = entries[0]
    return host, port


def replace_first_address(value: str, host: str | None, port: int | None) -> str:
    """``listeners`` with the first listener's host and/or port replaced (``--host``/``--port``),
    its name and the other listeners kept."""
    entries = parse_listeners(value)
    name, h, p = entries[0]
    entries[0] = (name, h if host is None else host, p if port is None else port)
    return ",".join(str(Listener(n, h, p, "")) for n, h, p in entries)


def new_session(listener: Listener, peer: str) -> Session:
    """The session of a connection accepted on ``listener`` from ``peer`` ("host:port"), before
    any authentication: ``User:ANONYMOUS``."""
    return Session(
        client_host=peer.rpartition(":")[0], listener=listener.name, security_protocol=listener.security_protocol
    )


def log_listeners(bound: ListenerConfig) -> None:
    """One line per listener: what it speaks, where it is bound and what it advertises (tests
    and operators read the bound port of a listener configured with port 0 here)."""
    advertised = {a.name: a for a in bound.advertised}
    for lst in bound.listeners:
        adv = advertised.get(lst.name)
        log.info(
            "listener %s (%s) on %s:%d, advertised as %s",
            lst.name,
            lst.security_protocol,
            lst.host,
            lst.port,
            f"{adv.host}:{adv.port}" if adv is not None else "nothing (not in advertised.listeners)",
        )
