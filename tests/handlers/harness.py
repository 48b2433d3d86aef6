"""A real in-process broker over a temporary log directory, and a client that sends it requests
through the one request path (hpbroker/request_path.py), as a connection does, without sockets:
encode the request, ``serve`` it, await what the handler parks, encode the answer (file regions
read back from the segment files) and decode it. Not a mock: the broker is ``LocalBroker``, the
one the in-process server and every handler process run."""

from __future__ import annotations

import asyncio
import os

from hpbroker import protocol, request_path
from hpbroker.broker.interface import Node
from hpbroker.broker.local import LocalBroker
from hpbroker.config import BrokerConfig
from hpbroker.protocol import ExternalBytes

NODE = Node(0, "localhost", 9092)


def _bytes_of(chunk) -> bytes:
    if isinstance(chunk, ExternalBytes):  # file regions a connection sends with sendfile
        return b"".join(os.pread(r.fd, r.length, r.position) for r in chunk.source)
    return bytes(chunk)


class BrokerHarness:
    def __init__(self, log_dir, config: dict | None = None, node: Node = NODE, controller: bool = True):
        """``controller=False``: a broker that is not the controller (as a handler process
        other than handler 0)."""
        self.loop = asyncio.new_event_loop()
        self.config = BrokerConfig({"log.dirs": str(log_dir), **(config or {})})
        self.broker = LocalBroker(self.config, node, controller=controller)
        self._correlation_id = 0

    # requests ---------------------------------------------------------------------------------
    def request(
        self, api_key: int, version: int, body: dict, *, client_id: str | None = "test", peer: str = "127.0.0.1:50000"
    ) -> dict | None:
        """The decoded answer to one request (None when the protocol has none); raises
        ``request_path.Refused`` where the connection would be closed."""
        return self.loop.run_until_complete(self.arequest(api_key, version, body, client_id=client_id, peer=peer))

    async def arequest(
        self, api_key: int, version: int, body: dict, *, client_id: str | None = "test", peer: str = "127.0.0.1:50000"
    ) -> dict | None:
        self._correlation_id += 1
        frame = bytearray(protocol.encode_request(api_key, version, self._correlation_id, client_id, body)[4:])
        return await self.aserve(frame, peer)

    async def aserve(self, frame: bytearray, peer: str = "127.0.0.1:50000") -> dict | None:
        """Serve one raw request frame (without its size prefix) and decode the answer."""
        ctx, parts = request_path.serve(self.broker, frame, peer, request_path.encode_parts)
        if request_path.pending(parts):
            task = asyncio.get_running_loop().create_task(parts)
            await asyncio.wait([task])
            parts = request_path.encode_parts(ctx, request_path.result_of(ctx, task))
        if not parts:
            return None
        data = b"".join(_bytes_of(p) for p in parts)
        header, offset = protocol.decode_response_header(ctx.api_key, ctx.api_version, data, 4)
        assert header.correlation_id == ctx.correlation_id
        return protocol.decode_response(ctx.api_key, ctx.api_version, data, offset)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    # the broker's parts, for a test's set-up and checks ---------------------------------------
    def create_topic(self, name: str, partitions: int = 1, configs: dict | None = None) -> None:
        self.run(self.broker.controller.create_topic(name, partitions, dict(configs or {})))

    @property
    def topics(self):
        return self.broker.metadata.topics

    def partition(self, topic: str, index: int):
        return self.broker.replica_manager.partition(topic, index)

    def close(self) -> None:
        self.broker.close()
        self.loop.close()
