"""The client side of SASL, for hpbroker's own connections (a broker to other brokers on the
inter-broker listener, the tools): PLAIN and SCRAM over SaslHandshake v1 and SaslAuthenticate.
Sans-io: ``exchange()`` yields the requests and takes the answers; ``authenticate(call)`` (or
``authenticate_async``) drives it through ``call(api_key, version, body) -> response body``,
whatever carries the requests.

``inter_broker(config, listener)`` reads what a broker authenticates with to its peers, as
Kafka: ``sasl.mechanism.inter.broker.protocol`` and the ``username`` / ``password`` of
``listener.name.<listener>.<mechanism>.sasl.jaas.config`` (or ``<mechanism>.sasl.jaas.config``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hpbroker.configdef.types import ConfigError
from hpbroker.security import jaas
from hpbroker.security.scram import MECHANISMS as SCRAM_MECHANISMS
from hpbroker.security.scram import ScramClient

SASL_HANDSHAKE, SASL_AUTHENTICATE = 17, 36


class SaslFailed(Exception):
    pass


@dataclass(frozen=True)
class SaslCredentials:
    mechanism: str
    username: str
    password: str

    def exchange(self):
        """The SASL exchange as a generator: it yields each request, ``(api_key, version, body)``,
        and is sent its answer; raises SaslFailed with the broker's reason."""
        answer = yield (SASL_HANDSHAKE, 1, {"mechanism": self.mechanism})
        if answer["error_code"]:
            raise SaslFailed(f"SaslHandshake refused ({answer['error_code']}): broker offers {answer['mechanisms']}")

        def step(token: bytes):
            answer = yield (SASL_AUTHENTICATE, 1, {"auth_bytes": token})
            if answer["error_code"]:
                raise SaslFailed(answer.get("error_message") or f"SaslAuthenticate error {answer['error_code']}")
            return answer["auth_bytes"]

        if self.mechanism == "PLAIN":
            yield from step(f"\0{self.username}\0{self.password}".encode())
            return
        client = ScramClient(self.mechanism, self.username, self.password)
        server_first = yield from step(client.first())
        client.verify((yield from step(client.final(server_first))))

    def authenticate(self, call) -> None:
        """Log in over ``call(api_key, version, body) -> answer``; raises SaslFailed."""
        steps = self.exchange()
        try:
            request = next(steps)
            while True:
                request = steps.send(call(*request))
        except StopIteration:
            pass

    async def authenticate_async(self, call) -> None:
        """``authenticate`` over an ``async`` call (the broker's own connections)."""
        steps = self.exchange()
        try:
            request = next(steps)
            while True:
                request = steps.send(await call(*request))
        except StopIteration:
            pass


def inter_broker(config, listener) -> SaslCredentials | None:
    """The credentials a broker uses on ``listener`` (a SASL listener), or None for others."""
    if not listener.sasl:
        return None
    mechanism = (config.get("sasl.mechanism.inter.broker.protocol") or "GSSAPI").strip().upper()
    if mechanism != "PLAIN" and mechanism not in SCRAM_MECHANISMS:
        raise ConfigError(
            f"sasl.mechanism.inter.broker.protocol {mechanism}: hpbroker's brokers authenticate with PLAIN or SCRAM"
        )
    name = f"{mechanism.lower()}.sasl.jaas.config"
    text = config.value(listener.prefix + name) or config.value(name)
    if text is None:
        raise ConfigError(f"{listener.prefix}{name} must give the broker's username and password")
    options = jaas.options(text)
    if "username" not in options or "password" not in options:
        raise ConfigError(f"{listener.prefix}{name} has no username and password for the broker itself")
    return SaslCredentials(mechanism, options["username"], options["password"])
