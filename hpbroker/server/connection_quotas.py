"""Kafka's connection limits, applied where connections are accepted (Kafka's ConnectionQuotas):

    max.connections                    connections the broker holds at once
    max.connections.per.ip             connections from one client address at once
    max.connections.per.ip.overrides   "host:count,host:count": the same, for the hosts named

All three can change at run time (AlterConfigs on the broker, as in Kafka; the change is checked
with the other broker configs, hpbroker/configdef/dynamic.py): a new limit applies to the
connections that come next.

A connection from an address already at its limit is accepted and closed at once: the client
sees a closed connection and reconnects after its backoff, and Kafka does the same. At
max.connections the broker stops accepting: new connections wait in the listen backlog until
one closes, as Kafka's acceptor waits for a connection slot.

An address is its 16 bytes as IPv6, IPv4 as IPv4-mapped ("127.0.0.1" in the overrides and a
peer "::ffff:127.0.0.1" on a dual-stack socket are one address). Host names in the overrides
are resolved when the limits are built (at start-up, and after a change at run time), as Kafka
resolves them when it applies its configuration; a name stands for every address it resolves
to. One that does not resolve stops the start, and leaves the limits as they were after a
change (a warning says so), as Kafka accepts the change and fails to apply it.

One process counts in a dict (``LocalCounts``). In the multi-process topology each processor
counts its own connections in a dict too, and mirrors the counts into its own region of the
control segment (``SharedCounts``), a region no other process writes; a check adds what every
other processor published. The limits are then exact except for connections that two
processors accept at the same instant: each may go over by one.

Region of processor p (little-endian int64 words, ``region_words()`` of them):

    word 0                 connections processor p holds
    word 1 + 3*s + 0, 1    slot s: the address, high and low 8 bytes (0, 0: a free slot)
    word 1 + 3*s + 2       slot s: connections processor p holds from that address

Slots are an open-addressing table (linear probing from the address's hash, at most MAX_PROBE
slots). A slot whose count fell to 0 keeps its address for the next connection from it; when a
probe finds no slot and a quarter of the slots hold such addresses, the owner rebuilds its table
from its dict. Past SLOTS client addresses at once on one processor, the rest are not published
(a warning says so). The table is kept whatever the limits, so a limit set at run time counts
the connections already open: a few words written per accepted or closed connection.

Who may touch: a processor writes its own region; everyone reads every region.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass, field

from hpbroker.config import ConfigError, parse_connection_overrides

UNLIMITED = 2147483647  # Kafka's default for both limits (Int.MaxValue)
SLOTS = 4096  # per processor: addresses it can publish; a power of two
MAX_PROBE = 32  # a longer probe rebuilds the table (the owner) or ends the look-up (a reader)
ROOM_RETRY_S = 0.05  # at max.connections, how often a processor looks again for a free slot
REJECT_LOG_EVERY_S = 10.0

log = logging.getLogger(__name__)


def address_key(host: str) -> tuple[int, int]:
    """The address as two signed int64 (high, low) of its IPv6 form."""
    addr = ipaddress.ip_address(host.split("%", 1)[0])  # no IPv6 zone
    if addr.version == 4:
        addr = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + addr.packed)
    b = addr.packed
    return int.from_bytes(b[:8], "big", signed=True), int.from_bytes(b[8:], "big", signed=True)


def _slot_of(key: tuple[int, int]) -> int:
    mixed = ((key[0] * 0x9E3779B97F4A7C15) ^ key[1]) * 0xBF58476D1CE4E5B9
    return ((mixed & 0xFFFFFFFFFFFFFFFF) >> 32) & (SLOTS - 1)


@dataclass
class ConnectionLimits:
    max_connections: int = UNLIMITED
    per_ip: int = UNLIMITED
    overrides: dict[tuple[int, int], int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config) -> ConnectionLimits:
        """From the broker's properties (checked as Kafka checks them by hpbroker.config); a
        ConfigError if a host name of the overrides does not resolve."""
        overrides = {}
        for host, n in parse_connection_overrides(config.get("max.connections.per.ip.overrides")):
            try:  # a name stands for every address it resolves to ("localhost": both)
                infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise ConfigError(f"max.connections.per.ip.overrides: cannot resolve {host!r}: {exc}") from None
            for info in infos:
                overrides[address_key(info[4][0])] = n
        return cls(config.get("max.connections"), config.get("max.connections.per.ip"), overrides)

    def limit_for(self, key: tuple[int, int]) -> int:
        return self.overrides.get(key, self.per_ip)


class LocalCounts:
    """The connections of this process alone: the in-process broker's whole count.

    Counts are kept per address whatever the limits, so a per-address limit set later, at run
    time, counts the connections already open. With ``config`` the limits follow it: they are
    rebuilt when its dynamic configs change (AlterConfigs), after ``refresh()`` (the processor's
    look at the registry the controller published) has had its say. A new limit applies to the
    connections that come next; the open ones stay, as in Kafka."""

    def __init__(self, limits: ConnectionLimits, config=None, refresh=None):
        self.limits = limits
        self.open = 0
        self.by_address: dict[tuple[int, int], int] = {}
        self._config, self._refresh = config, refresh
        self._generation = None if config is None else config.generation

    def _follow_config(self) -> None:
        if self._refresh is not None:
            self._refresh()
        config = self._config
        if config is not None and config.generation != self._generation:
            self._generation = config.generation
            try:
                self.limits = ConnectionLimits.from_config(config)
            except ConfigError as exc:  # a host name of the overrides that does not resolve
                log.warning("connection limits unchanged: %s", exc)

    def room(self) -> bool:
        """May one more connection be accepted now (max.connections)?"""
        self._follow_config()
        return self.limits.max_connections >= UNLIMITED or self._total() < self.limits.max_connections

    def admit(self, host: str) -> bool:
        """Count a new connection from ``host``; False (nothing counted) if its address is at
        its limit."""
        self._follow_config()
        key = address_key(host)
        limit = self.limits.limit_for(key)
        if limit < UNLIMITED and self._from(key) >= limit:
            return False
        self.by_address[key] = self.by_address.get(key, 0) + 1
        self._published(key)
        self.open += 1
        self._published_total()
        return True

    def release(self, host: str) -> None:
        """A connection counted by ``admit`` closed."""
        self.open -= 1
        self._published_total()
        key = address_key(host)
        n = self.by_address.get(key, 0) - 1
        if n > 0:
            self.by_address[key] = n
        else:
            self.by_address.pop(key, None)
        self._published(key)

    # what other processes hold (none here) -------------------------------------------------
    def _total(self) -> int:
        return self.open

    def _from(self, key) -> int:
        return self.by_address.get(key, 0)

    def _published(self, key) -> None:
        pass

    def _published_total(self) -> None:
        pass


def region_words() -> int:
    return 1 + 3 * SLOTS


class SharedCounts(LocalCounts):
    """Processor ``index`` of ``processors``, over ``words`` (a memoryview of int64, every
    processor's region in turn): its own counts in its dict and its region, everyone's read."""

    def __init__(
        self, limits: ConnectionLimits, words: memoryview, index: int, processors: int, config=None, refresh=None
    ):
        super().__init__(limits, config, refresh)
        self.words, self.index, self.processors = words, index, processors
        n = region_words()
        self._base = index * n
        self._others = [p * n for p in range(processors) if p != index]
        self.rebuilds = 0
        self._used = 0  # slots holding an address, with connections or not
        self.overflows = 0  # counts that found no slot (more addresses than the table holds)
        self.reset()

    def reset(self) -> None:
        """A new processor incarnation: what its predecessor held died with it."""
        n = region_words()
        self.words[self._base : self._base + n] = memoryview(bytes(8 * n)).cast("q")
        self._used = 0

    def _total(self) -> int:
        w = self.words
        return self.open + sum(w[base] for base in self._others)

    def _from(self, key) -> int:
        return self.by_address.get(key, 0) + sum(self._look_up(base, key) for base in self._others)

    def _look_up(self, base: int, key) -> int:
        w, hi, lo = self.words, key[0], key[1]
        s = _slot_of(key)
        for _ in range(MAX_PROBE):
            at = base + 1 + 3 * s
            a, b = w[at], w[at + 1]
            if a == hi and b == lo:
                return w[at + 2]
            if a == 0 and b == 0:
                return 0
            s = (s + 1) & (SLOTS - 1)
        return 0

    def _published_total(self) -> None:
        self.words[self._base] = self.open

    def _published(self, key) -> None:
        count = self.by_address.get(key, 0)
        if self._publish(key, count):
            return
        if self._used - len(self.by_address) > SLOTS // 4:  # a quarter of the slots hold nothing now
            self._rebuild()
        elif count:
            self._overflowed()

    def _publish(self, key, count: int) -> bool:
        w, hi, lo = self.words, key[0], key[1]
        s = _slot_of(key)
        for _ in range(MAX_PROBE):
            at = self._base + 1 + 3 * s
            a, b = w[at], w[at + 1]
            if a == hi and b == lo:
                w[at + 2] = count
                return True
            if a == 0 and b == 0:
                if count:  # address first, count last: a reader never sees a count without its address
                    w[at], w[at + 1] = hi, lo
                    w[at + 2] = count
                    self._used += 1
                return True
            s = (s + 1) & (SLOTS - 1)
        return False

    def _rebuild(self) -> None:
        """The slots again from the dict, without the addresses that hold nothing now. For the
        moment it takes, other processors may count this one's connections short."""
        self.rebuilds += 1
        start = self._base + 1
        self.words[start : start + 3 * SLOTS] = memoryview(bytes(24 * SLOTS)).cast("q")
        self._used = 0
        for key, n in self.by_address.items():
            if not self._publish(key, n):
                self._overflowed()

    def _overflowed(self) -> None:
        if not self.overflows:
            log.warning(
                "connections from more client addresses than one processor can publish (%d): "
                "other processors do not count the rest against max.connections.per.ip",
                SLOTS,
            )
        self.overflows += 1


class RejectLog:
    """One log line per REJECT_LOG_EVERY_S for the connections closed at their address's limit,
    so a client that reconnects in a loop cannot flood the log."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.rejected = 0
        self._since_logged = 0
        self._next_at = 0.0

    def note(self, host: str, limit: int) -> None:
        self.rejected += 1
        self._since_logged += 1
        now = self.clock()
        if now >= self._next_at:
            log.info(
                "rejected a connection from %s: the address already has the configured maximum of %d "
                "connections (%d rejected since the last such line)",
                host,
                limit,
                self._since_logged,
            )
            self._since_logged = 0
            self._next_at = now + REJECT_LOG_EVERY_S
