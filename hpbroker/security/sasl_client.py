"""The client side of SASL, for hpbroker's own connections (a broker to other brokers on the
inter-broker listener, the tools): PLAIN and SCRAM over SaslHandshake v1 and SaslAuthenticate.
Sans-io: ``authenticate(call)`` drives the exchange through ``call(api_key, version, body) ->
response body``, whatever carries the requests.

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

    def authenticate(self, call) -> None:
        """Log in over ``call``; raises SaslFailed with the broker's reason."""
        answer = call(SASL_HANDSHAKE, 1, {"mechanism": self.mechanism})
        if answer["error_code"]:
            raise SaslFailed(f"SaslHandshake refused ({answer['error_code']}): broker offers {answer['mechanisms']}")

        def step(token: bytes) -> bytes:
            answer = call(SASL_AUTHENTICATE, 1, {"auth_bytes": token})
            if answer["error_code"]:
                raise SaslFailed(answer.get("error_message") or f"SaslAuthenticate error {answer['error_code']}")
            return answer["auth_bytes"]

        if self.mechanism == "PLAIN":
            step(f"\0{self.username}\0{self.password}".encode())
            return
        client = ScramClient(self.mechanism, self.username, self.password)
        server_first = step(client.first())
        client.verify(step(client.final(server_first)))


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
