"""The per-request context a handler receives, and the signals it can raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpbroker.broker.interface import Broker


class CloseConnection(Exception):
    """Close the client's connection without a response (Kafka's answer to a failed acks=0
    Produce, and to requests that cannot be answered at all)."""


ANONYMOUS = "User:ANONYMOUS"


@dataclass(slots=True, eq=False)
class Session:
    """Who is at the other end of a connection, as Kafka's RequestContext and Session carry it:
    the principal (``User:alice``; ``User:ANONYMOUS`` on a PLAINTEXT listener), the client's
    address, the listener the connection came in on and its security protocol. ``sasl`` is the
    connection's SASL server (hpbroker/security/sasl_server.py) on a SASL listener, else None.

    Who may touch: the event loop of the process holding the connection; a handler process gets
    a copy of principal, host and listener with each forwarded request."""

    principal: str = ANONYMOUS
    client_host: str = ""
    listener: str | None = None
    security_protocol: str = "PLAINTEXT"
    sasl: object = None


#: the session of requests that carry none (unit tests)
NO_SESSION = Session()
#: the broker's own requests between its processes (a processor asking the controller to create
#: __consumer_offsets or an auto-created topic, after checking its client): allowed everything.
#: No client can be this principal: TLS and SASL make ``User:`` principals only.
INTERNAL_PRINCIPAL = "Broker:internal"
INTERNAL_SESSION = Session(principal=INTERNAL_PRINCIPAL)


@dataclass(slots=True)
class RequestContext:
    broker: Broker
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    peer: str
    session: Session = NO_SESSION
    #: a request this broker made itself (a processor asking its controller to create a topic
    #: for auto-creation or __consumer_offsets), not a client's
    internal: bool = False

    def authorize(self, operation: int, resource_type: int, name: str) -> bool:
        """May this request's principal do ``operation`` on the resource? True when no authorizer
        is configured (security/authorizer.py has the rules), and for the broker's own requests."""
        authorizer = self.broker.authorizer
        if authorizer is None or self.internal:
            return True
        s = self.session
        return authorizer.authorize(s.principal, s.client_host, operation, resource_type, name)

    def authorize_any(self, operation: int, resource_type: int) -> bool:
        """May the principal do ``operation`` on some resource of the type (Kafka's
        authorizeByResourceType)?"""
        authorizer = self.broker.authorizer
        if authorizer is None:
            return True
        return authorizer.authorize_any(self.session.principal, self.session.client_host, operation, resource_type)

    def authorized_operations(self, resource_type: int, name: str, supported: int) -> int:
        """KIP-430: the operations on the resource the principal may do (``supported``, the type's
        every operation, without an authorizer)."""
        authorizer = self.broker.authorizer
        if authorizer is None:
            return supported
        s = self.session
        return authorizer.authorized_operations(s.principal, s.client_host, resource_type, name)

    @property
    def client_host(self) -> str:
        """The client's address as Kafka reports it in group member descriptions ("/host")."""
        return "/" + self.peer.rsplit(":", 1)[0]
