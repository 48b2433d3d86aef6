"""SASL authentication of one connection (Kafka's SaslServerAuthenticator): PLAIN, SCRAM-SHA-256
and SCRAM-SHA-512 over SaslHandshake and SaslAuthenticate (or, after a SaslHandshake v0, bare
SASL tokens), and re-authentication (KIP-368).

Theory of operation
-------------------
Sans-io. The connection (server/connection.py) holds a ``SaslServer`` in its session and lets
nothing through but ApiVersions and the SASL requests until ``complete``; the SaslHandshake and
SaslAuthenticate API modules call ``handshake`` and ``authenticate`` here. States, and what each
request does in them (anything else: ILLEGAL_SASL_STATE, and the connection closes):

    state          SaslHandshake                   SaslAuthenticate / token    after
    HANDSHAKE      mechanism enabled -> AUTHENTICATE   -                        -
                   (v0: tokens come bare)
                   not enabled -> FAILED (answered
                   UNSUPPORTED_SASL_MECHANISM)
    AUTHENTICATE   -                               exchange step;             COMPLETE on the last
                                                   a refusal -> FAILED        step
    COMPLETE       re-authentication -> REAUTH     -                          connections.max.reauth.ms
                                                                              passed -> EXPIRED
    REAUTH         -                               as AUTHENTICATE, the       COMPLETE
                                                   principal must not change
    EXPIRED        as COMPLETE                     -                          (the connection lets only
                                                                              SASL requests through)

A refusal (wrong password, unknown user) is answered SASL_AUTHENTICATION_FAILED after
``connection.failed.authentication.delay.ms``, logged with the client's address, and the
connection closes once the answer is out. The principal of a connection is ``User:<name>``.

Who may touch: the event loop of the process holding the connection.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass, field

from hpbroker.configdef.types import ConfigError, split_list
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security import jaas
from hpbroker.security.scram import MECHANISMS as SCRAM_MECHANISMS
from hpbroker.security.scram import ScramError, ScramServer

log = logging.getLogger("hpbroker.security.sasl")

PLAIN = "PLAIN"
SUPPORTED = (PLAIN, *SCRAM_MECHANISMS)
HANDSHAKE, AUTHENTICATE, COMPLETE, REAUTH, EXPIRED, FAILED = (
    "HANDSHAKE",
    "AUTHENTICATE",
    "COMPLETE",
    "REAUTH",
    "EXPIRED",
    "FAILED",
)
#: (state, request) -> state it may move to; a pair not here is ILLEGAL_SASL_STATE
TRANSITIONS = {
    (HANDSHAKE, "handshake"): AUTHENTICATE,
    (AUTHENTICATE, "authenticate"): COMPLETE,
    (COMPLETE, "handshake"): REAUTH,
    (EXPIRED, "handshake"): REAUTH,
    (REAUTH, "authenticate"): COMPLETE,
}


class AuthenticationFailed(Exception):
    pass


@dataclass
class SaslSettings:
    """A SASL listener's settings, read once at start-up."""

    listener_name: str
    mechanisms: tuple[str, ...]
    plain_users: dict[str, str] = field(default_factory=dict)
    credentials: object = None  # security/credentials.CredentialStore
    max_receive_size: int = 524288
    reauth_ms: int = 0
    failure_delay_s: float = 0.1

    @classmethod
    def from_config(cls, config, listener, credentials) -> SaslSettings:
        def value(name):
            v = config.value(listener.prefix + name)
            return v if v is not None else config.value(name)

        mechanisms = tuple(m.upper() for m in split_list(value("sasl.enabled.mechanisms") or ""))
        unsupported = [m for m in mechanisms if m not in SUPPORTED]
        if unsupported or not mechanisms:
            raise ConfigError(
                f"sasl.enabled.mechanisms of listener {listener.name}: {', '.join(unsupported) or 'none'}: "
                f"hpbroker offers {', '.join(SUPPORTED)} (set {listener.prefix}sasl.enabled.mechanisms)"
            )
        plain_users: dict[str, str] = {}
        if PLAIN in mechanisms:
            text = value("plain.sasl.jaas.config")
            if text is None:
                raise ConfigError(
                    f"listener {listener.name} offers PLAIN: {listener.prefix}plain.sasl.jaas.config must name its "
                    'users (PlainLoginModule required user_alice="alice-secret";)'
                )
            opts = jaas.options(text)
            plain_users = {k[5:]: v for k, v in opts.items() if k.startswith("user_")}
        return cls(
            listener.name,
            mechanisms,
            plain_users,
            credentials,
            int(config.get("sasl.server.max.receive.size")),
            int(config.get("connections.max.reauth.ms")),
            int(config.get("connection.failed.authentication.delay.ms")) / 1000.0,
        )

    def new_server(self, session) -> SaslServer:
        return SaslServer(self, session)


class SaslServer:
    def __init__(self, settings: SaslSettings, session):
        self.settings = settings
        self.session = session
        self.max_receive_size = settings.max_receive_size
        self.state = HANDSHAKE
        self.complete = False
        self.raw_tokens = False  # after SaslHandshake v0: the next frames are bare tokens
        self.connection = None  # set by the server: told of success and failure
        self.mechanism: str | None = None
        self._exchange = None
        self._expiry = None

    def _move(self, request: str) -> bool:
        nxt = TRANSITIONS.get((self.state, request))
        if nxt is None:
            return False
        self.state = nxt
        return True

    # SaslHandshake ------------------------------------------------------------------------------
    def handshake(self, version: int, mechanism: str) -> dict:
        enabled = list(self.settings.mechanisms)
        previous = self.state
        if not self._move("handshake"):
            self._fail(f"SaslHandshake in state {self.state}")
            self.state = FAILED
            return {"error_code": ErrorCode.ILLEGAL_SASL_STATE, "mechanisms": enabled}
        if mechanism not in enabled or (previous in (COMPLETE, EXPIRED) and mechanism != self.mechanism):
            self.state = FAILED
            self._fail(f"SASL mechanism {mechanism!r} not enabled on listener {self.settings.listener_name}")
            return {"error_code": ErrorCode.UNSUPPORTED_SASL_MECHANISM, "mechanisms": enabled}
        self.mechanism = mechanism
        self._exchange = None
        if version == 0:
            self.raw_tokens = True
        return {"error_code": 0, "mechanisms": enabled}

    # SaslAuthenticate ---------------------------------------------------------------------------
    def authenticate(self, version: int, auth_bytes: bytes):
        """The answer body, or an awaitable of it (a refusal, after the delay)."""
        if self.state not in (AUTHENTICATE, REAUTH):
            self.state = FAILED
            self._fail("SaslAuthenticate without a SaslHandshake first")
            return {"error_code": ErrorCode.ILLEGAL_SASL_STATE, "error_message": "Unexpected SaslAuthenticate request"}
        try:
            token = self.evaluate(auth_bytes)
        except AuthenticationFailed as exc:
            return self._refused(str(exc))
        answer = {"error_code": 0, "error_message": None, "auth_bytes": token, "session_lifetime_ms": 0}
        if self.complete and self.settings.reauth_ms > 0:
            answer["session_lifetime_ms"] = self.settings.reauth_ms
        return answer

    def evaluate(self, token: bytes) -> bytes:
        """One step of the exchange; raises AuthenticationFailed."""
        reauth = self.state == REAUTH
        if self._exchange is None:
            self._exchange = self._new_exchange()
        try:
            out, name = self._exchange(bytes(token))
        except (ScramError, ValueError, UnicodeDecodeError) as exc:
            self.state = FAILED
            raise AuthenticationFailed(self._failure_text(exc)) from None
        if name is None:
            return out
        principal = f"User:{name}"
        if reauth and principal != self.session.principal:
            self.state = FAILED
            raise AuthenticationFailed(
                f"Cannot change principals during re-authentication from {self.session.principal}: {principal}"
            )
        self.session.principal = principal
        self.state = COMPLETE
        self.complete = True
        self.raw_tokens = False
        self._exchange = None
        self._schedule_expiry()
        if self.connection is not None:
            self.connection.authenticated()
        return out

    def _failure_text(self, exc) -> str:
        if self.mechanism == PLAIN:
            return "Authentication failed: Invalid username or password"
        return (
            "Authentication failed during authentication due to invalid credentials with SASL mechanism "
            f"{self.mechanism}"
        )

    def _new_exchange(self):
        if self.mechanism == PLAIN:
            return self._plain
        store = self.settings.credentials
        mechanism = self.mechanism
        server = ScramServer(mechanism, lambda user: store.lookup(user, mechanism) if store is not None else None)

        def step(token):
            out = server.evaluate(token)
            return out, server.username if server.complete else None

        return step

    def _plain(self, token: bytes):
        parts = token.split(b"\0")
        if len(parts) != 3:
            raise ValueError("PLAIN token is not authzid NUL user NUL password")
        authzid, user, password = (p.decode("utf-8") for p in parts)
        if authzid and authzid != user:
            raise ValueError("authorization id differs from the user name")
        expected = self.settings.plain_users.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise ValueError(f"invalid password for user {user!r}")
        return b"", user

    def _refused(self, message: str):
        self._fail(message)
        delay = self.settings.failure_delay_s
        body = {"error_code": ErrorCode.SASL_AUTHENTICATION_FAILED, "error_message": message, "auth_bytes": b""}

        async def later():
            await asyncio.sleep(delay)
            return body

        return later() if delay > 0 else body

    def _fail(self, reason: str) -> None:
        log.warning(
            "SASL authentication from %s on listener %s failed (mechanism %s): %s",
            self.session.client_host,
            self.settings.listener_name,
            self.mechanism,
            reason,
        )
        if self._expiry is not None:
            self._expiry.cancel()
        if self.connection is not None:
            self.connection.authentication_failed(f"SASL authentication failed: {reason}")

    # re-authentication --------------------------------------------------------------------------
    def _schedule_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.settings.reauth_ms > 0 and self.connection is not None:
            self._expiry = self.connection.loop.call_later(self.settings.reauth_ms / 1000.0, self._expired)

    def _expired(self) -> None:
        """connections.max.reauth.ms passed without a re-authentication: from now on only the
        SASL requests pass; anything else closes the connection (Kafka closes it then)."""
        self._expiry = None
        if self.state == COMPLETE:
            self.state = EXPIRED
            self.complete = False
            if self.connection is not None:
                self.connection.reauthentication_due()
