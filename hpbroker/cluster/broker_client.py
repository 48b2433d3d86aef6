"""One connection to another broker, for the requests brokers send each other: the controller's
LeaderAndIsr, UpdateMetadata and StopReplica, a stopping broker's ControlledShutdown.

One request at a time (Kafka's controller sends the next request to a broker only once the last
one is answered, so a broker applies them in order); each is encoded and its answer decoded by
hpbroker.protocol. A connection that fails or times out is closed and ``BrokerUnavailable``
raised; the next request connects again.

Who may touch: the event loop it was made on, one request at a time.
"""

from __future__ import annotations

import asyncio
import struct

from hpbroker import protocol

_SIZE = struct.Struct(">i")


class BrokerUnavailable(Exception):
    """The broker could not be reached, or did not answer in time."""


class BrokerClient:
    def __init__(self, host: str, port: int, client_id: str, timeout_s: float = 30.0):
        self.host, self.port = host, port
        self.client_id = client_id
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._correlation_id = 0

    def __repr__(self) -> str:
        return f"BrokerClient({self.host}:{self.port})"

    async def request(self, api_key: int, api_version: int, body: dict) -> dict:
        """Send one request and return its decoded answer; BrokerUnavailable on failure."""
        try:
            return await asyncio.wait_for(self._exchange(api_key, api_version, body), self.timeout_s)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, protocol.ProtocolError) as exc:
            self.close()
            raise BrokerUnavailable(f"{self.host}:{self.port}: {exc!r}") from None

    async def _exchange(self, api_key: int, api_version: int, body: dict) -> dict:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
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
