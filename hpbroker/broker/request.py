"""The per-request context a handler receives, and the signals it can raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpbroker.broker.interface import Broker


class CloseConnection(Exception):
    """Close the client's connection without a response (Kafka's answer to a failed acks=0
    Produce, and to requests that cannot be answered at all)."""


@dataclass(slots=True)
class RequestContext:
    broker: Broker
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    peer: str
    #: a request this broker made itself (a processor asking its controller to create a topic
    #: for auto-creation or __consumer_offsets), not a client's
    internal: bool = False

    @property
    def client_host(self) -> str:
        """The client's address as Kafka reports it in group member descriptions ("/host")."""
        return "/" + self.peer.rsplit(":", 1)[0]
