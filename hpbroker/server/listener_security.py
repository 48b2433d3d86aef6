"""What each listener's connections need for its security protocol, built once at start-up
(a bad TLS or SASL setting stops the start, as in Kafka): the TLS context and principal
mapping rules of an SSL / SASL_SSL listener, the SASL settings of a SASL_PLAINTEXT / SASL_SSL
one. ``accept`` makes the connection of a newly accepted socket: TLS or not, with a session
whose SASL server gates it until authentication."""

from __future__ import annotations

from dataclasses import dataclass

from hpbroker.security import tls
from hpbroker.server.listeners import Listener, ListenerConfig, new_session


@dataclass
class ListenerSecurity:
    listener: Listener
    ssl_context: object = None  # ssl.SSLContext of a TLS listener
    rules: list | None = None  # ssl.principal.mapping.rules
    sasl: object = None  # security.sasl_server.SaslSettings of a SASL listener


def build(config, listeners: ListenerConfig, credentials=None) -> dict[str, ListenerSecurity]:
    """listener name -> its ListenerSecurity; ConfigError on a bad setting. ``credentials``: the
    SCRAM credential cache SASL/SCRAM listeners verify against."""
    out = {}
    for lst in listeners.listeners:
        sec = ListenerSecurity(lst)
        if lst.tls:
            sec.ssl_context = tls.server_context(config, lst)
            sec.rules = tls.mapping_rules(config, lst)
        if lst.sasl:
            from hpbroker.security.sasl_server import SaslSettings

            sec.sasl = SaslSettings.from_config(config, lst, credentials)
        out[lst.name] = sec
    return out


def accept(server, sec: ListenerSecurity, sock, peer: str, plain_class, tls_class, *args):
    """The connection of a socket accepted on ``sec.listener``: ``plain_class(server, sock,
    peer, *args, session)``, or ``tls_class`` (same arguments) on a TLS listener."""
    session = new_session(sec.listener, peer)
    if sec.sasl is not None:
        session.sasl = sec.sasl.new_server(session)
    if sec.ssl_context is None:
        conn = plain_class(server, sock, peer, *args, session)
    else:
        conn = tls_class(server, sock, peer, *args, session)
        conn._init_tls(sec.ssl_context, sec.rules)
    if session.sasl is not None:
        session.sasl.connection = conn
    return conn
