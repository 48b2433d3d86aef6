"""ISR changes of the partitions a handler other than handler 0 leads, written by handler 0.

Theory of operation. In a cluster only handler 0 holds the broker's ZooKeeper session
(cluster_handlers.py), but every handler leads the partitions it owns and decides their ISR
changes (replication/cluster_replica_manager.py: a follower caught up, or lagged too long).
Handler h (> 0) therefore asks handler 0 to make the write, over a channel of its own: a
SOCK_SEQPACKET socket pair per handler h, created by the supervisor before any fork
(``Topology.isr_channel``) and inherited by every incarnation of both ends. The rule of the
in-process topology holds: ZooKeeper first, memory after. Handler h's ``isr_writer`` awaits
handler 0's answer, and only a new partition epoch in it lets the partition take the new ISR;
handler 0 makes the same conditional write on the partition's state znode as for its own
partitions (``ClusterBroker.write_isr``), and announces the changes to the controller
(/isr_change_notification) when asked.

Messages: one JSON object per datagram (ISR changes are rare, a few hundred bytes each).

    ask     {"id": n, "op": "isr", "topic": t, "partition": i, "leader_epoch": e, "isr": [...],
             "partition_epoch": v, "controller_epoch": c}
            {"id": n, "op": "notify", "partitions": [[t, i], ...]}
    answer  {"id": n, "version": v}    the new partition epoch; null: not written (the state
                                       znode moved on, no session, an error); notify: null

Ids start at the asking process's pid shifted left by 24 bits, so an answer meant for a
predecessor incarnation is never taken for one of its own. A restarted handler 0 drops the asks
left in the sockets (their askers gave up or died with its predecessor). An ask without an answer
within ASK_TIMEOUT_S (handler 0 restarting, ZooKeeper unreachable) counts as not written: the
partition keeps the ISR it has in memory and the next maintenance tick decides again. As with a
ZooKeeper error in the in-process topology, a write that succeeded but whose answer was lost
leaves ZooKeeper ahead of memory until the controller's next LeaderAndIsr for the partition.

Who may touch: ``IsrClient``: the event loop of handler h; ``IsrServer``: that of handler 0.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from types import SimpleNamespace

log = logging.getLogger(__name__)

ASK_TIMEOUT_S = 15.0
MAX_MESSAGE = 1 << 16


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """(handler 0's end, handler h's end), non-blocking."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def _drop_pending(sock: socket.socket) -> int:
    dropped = 0
    while True:
        try:
            sock.recv(MAX_MESSAGE)
        except (BlockingIOError, InterruptedError):
            return dropped
        dropped += 1


class IsrClient:
    """Handler h's side: ``write_isr`` and ``notify`` are the replica manager's ``isr_writer`` and
    ``isr_notifier``."""

    def __init__(self, sock: socket.socket, broker_id: int):
        self.sock = sock
        self.broker_id = broker_id
        self.pending: dict[int, asyncio.Future] = {}
        self._next_id = (os.getpid() & 0xFFFFFF) << 24
        _drop_pending(sock)  # answers to a predecessor
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(sock.fileno(), self._on_readable)

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        for fut in self.pending.values():
            fut.cancel()
        self.pending.clear()

    def _on_readable(self) -> None:
        while True:
            try:
                data = self.sock.recv(MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return
            try:
                msg = json.loads(data)
            except ValueError:
                log.warning("ISR channel: an answer that is not JSON (%d bytes)", len(data))
                continue
            fut = self.pending.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    async def _ask(self, msg: dict) -> dict | None:
        self._next_id += 1
        msg["id"] = ident = self._next_id
        fut = self.loop.create_future()
        self.pending[ident] = fut
        try:
            self.sock.send(json.dumps(msg).encode())
            return await asyncio.wait_for(fut, ASK_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            log.warning("ISR channel: handler 0 did not answer %s: %r", msg["op"], exc)
            return None
        finally:
            self.pending.pop(ident, None)

    async def write_isr(self, partition, isr: tuple[int, ...]) -> int | None:
        answer = await self._ask(
            {
                "op": "isr",
                "topic": partition.topic,
                "partition": partition.index,
                "leader_epoch": partition.leader_epoch,
                "isr": list(isr),
                "partition_epoch": partition.partition_epoch,
                "controller_epoch": partition.controller_epoch,
            }
        )
        return None if answer is None else answer.get("version")

    async def notify(self, partitions: list[tuple[str, int]]) -> None:
        await self._ask({"op": "notify", "partitions": [list(p) for p in partitions]})


class IsrServer:
    """Handler 0's side: takes the asks of every other handler and writes them through
    ``write_isr(partition, isr)`` and ``notify(partitions)`` (its ClusterBroker's)."""

    def __init__(self, socks: list[socket.socket], write_isr, notify):
        self.socks = socks
        self.write_isr = write_isr
        self.notify = notify
        self.tasks: set[asyncio.Task] = set()
        self.loop = asyncio.get_running_loop()
        for sock in socks:
            dropped = _drop_pending(sock)
            if dropped:
                log.info("ISR channel: dropped %d asks made of a previous handler 0", dropped)
            self.loop.add_reader(sock.fileno(), self._on_readable, sock)

    def close(self) -> None:
        for sock in self.socks:
            self.loop.remove_reader(sock.fileno())
        for t in self.tasks:
            t.cancel()

    def _on_readable(self, sock: socket.socket) -> None:
        while True:
            try:
                data = sock.recv(MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return
            try:
                msg = json.loads(data)
            except ValueError:
                log.warning("ISR channel: an ask that is not JSON (%d bytes)", len(data))
                continue
            task = self.loop.create_task(self._serve(sock, msg))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _serve(self, sock: socket.socket, msg: dict) -> None:
        version = None
        try:
            if msg.get("op") == "isr":
                partition = SimpleNamespace(
                    topic=msg["topic"],
                    index=msg["partition"],
                    leader_epoch=msg["leader_epoch"],
                    partition_epoch=msg["partition_epoch"],
                    controller_epoch=msg["controller_epoch"],
                )
                version = await self.write_isr(partition, tuple(msg["isr"]))
            elif msg.get("op") == "notify":
                await self.notify([(t, i) for t, i in msg["partitions"]])
        except Exception as exc:
            log.warning("ISR channel: cannot carry out %s: %r", msg.get("op"), exc)
            version = None
        try:
            sock.send(json.dumps({"id": msg.get("id"), "version": version}).encode())
        except OSError as exc:  # the asker died; its successor drops what is left
            log.info("ISR channel: cannot answer: %r", exc)
