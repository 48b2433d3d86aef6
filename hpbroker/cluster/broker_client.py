"""One connection to another broker, for the requests brokers send each other: the controller's
LeaderAndIsr, UpdateMetadata and StopReplica, a stopping broker's ControlledShutdown, a
follower's Fetch and OffsetForLeaderEpoch.

Every such connection goes to the inter-broker listener (``InterBrokerSecurity``, Kafka's
``inter.broker.listener.name`` or ``security.inter.broker.protocol``): the endpoint of that
listener in the other broker's registration, with TLS when it is SSL or SASL_SSL (a client
context from the listener's ``ssl.*``: the trust store checks the other broker, the key store,
if any, is this broker's certificate) and a SASL login when it is SASL_PLAINTEXT or SASL_SSL
(``sasl.mechanism.inter.broker.protocol`` with the username and password of the listener's
JAAS configuration, security/sasl_client.py), before the first request.

One request at a time (Kafka's controller sends the next request to a broker only once the last
one is answered, so a broker applies them in order); each is encoded and its answer decoded by
hpbroker.protocol. A connection that fails, times out or is refused its login is closed and
``BrokerUnavailable`` raised; the next request connects again.

Who may touch: the event loop it was made on, one request at a time.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import struct
from dataclasses import dataclass

from hpbroker import protocol
from hpbroker.security import tls
from hpbroker.security.sasl_client import SaslCredentials, SaslFailed, inter_broker

log = logging.getLogger(__name__)

_SIZE = struct.Struct(">i")


class BrokerUnavailable(Exception):
    """The broker could not be reached, refused this broker's login, or did not answer in time."""


@dataclass(frozen=True)
class InterBrokerSecurity:
    """How this broker connects to the others: the listener's name and protocol, the TLS client
    context and the SASL credentials it needs (None when it does not)."""

    listener_name: str = "PLAINTEXT"
    security_protocol: str = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = None
    sasl: SaslCredentials | None = None

    @classmethod
    def from_config(cls, config) -> InterBrokerSecurity:
        """From a BrokerConfig; ConfigError when the listener's TLS or SASL settings are missing."""
        from hpbroker.server import listeners as ls

        name = ls.inter_broker_listener_name(config)
        protocols = ls.parse_protocol_map(config.get("listener.security.protocol.map") or "")
        listener = ls.Listener(name, "", 0, protocols.get(name, name))
        context = tls.client_context(config, listener) if listener.tls else None
        return cls(name, listener.security_protocol, context, inter_broker(config, listener))

    def address(self, endpoints) -> tuple[str, int] | None:
        """Where to reach a broker among ``endpoints`` ((listener name, host, port) triples, or
        zk_data.EndPoint): the inter-broker listener's, else None (Kafka's
        BrokerEndPointNotAvailableException: the other broker does not listen for brokers)."""
        for e in endpoints:
            name, host, port = (e.listener_name, e.host, e.port) if hasattr(e, "listener_name") else e
            if name == self.listener_name:
                return host or "localhost", port
        return None

    def client(self, host: str, port: int, client_id: str, timeout_s: float = 30.0) -> BrokerClient:
        return BrokerClient(host, port, client_id, timeout_s, self)


PLAINTEXT_ONLY = InterBrokerSecurity()


class BrokerClient:
    def __init__(
        self, host: str, port: int, client_id: str, timeout_s: float = 30.0, security: InterBrokerSecurity | None = None
    ):
        self.host, self.port = host, port
        self.client_id = client_id
        self.timeout_s = timeout_s
        self.security = security or PLAINTEXT_ONLY
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._correlation_id = 0

    def __repr__(self) -> str:
        return f"BrokerClient({self.security.listener_name}://{self.host}:{self.port})"

    async def request(self, api_key: int, api_version: int, body: dict) -> dict:
        """Send one request and return its decoded answer; BrokerUnavailable on failure."""
        try:
            return await asyncio.wait_for(self._request(api_key, api_version, body), self.timeout_s)
        except SaslFailed as exc:
            self.close()
            raise BrokerUnavailable(
                f"{self.host}:{self.port}: authentication as {self.security.sasl.username} failed: {exc}"
            ) from None
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, protocol.ProtocolError) as exc:
            self.close()
            raise BrokerUnavailable(f"{self.host}:{self.port}: {exc!r}") from None

    async def _request(self, api_key: int, api_version: int, body: dict) -> dict:
        if self._writer is None:
            await self._connect()
        return await self._exchange(api_key, api_version, body)

    async def _connect(self) -> None:
        context = self.security.ssl_context
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, ssl=context, server_hostname=self.host if context is not None else None
        )
        if self.security.sasl is not None:
            await self.security.sasl.authenticate_async(self._exchange)

    async def _exchange(self, api_key: int, api_version: int, body: dict) -> dict:
        assert self._reader is not None and self._writer is not None
        self._correlation_id = (self._correlation_id + 1) & 0x7FFFFFFF
        cid = self._correlation_id
        self._writer.write(protocol.encode_request(api_key, api_version, cid, self.client_id, body))
        await self._writer.drain()
        size = _SIZE.unpack(await self._reader.readexactly(4))[0]
        frame = await self._reader.readexactly(size)
        header, offset = protocol.decode_response_header(api_key, api_version, frame)
        if header.correlation_id != cid:
            raise protocol.ProtocolError(f"correlation id {header.correlation_id} answers request {cid}")
        return protocol.decode_response(api_key, api_version, frame, offset)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
