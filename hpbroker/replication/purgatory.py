"""Purgatory: requests parked until something they wait for happens, or their timeout.

A delayed Fetch waits for new bytes on any of its partitions; a delayed JoinGroup waits for the
rebalance to complete. Each waiter is an asyncio future registered under one or more keys (a
TopicPartition, a group id); ``notify(key)`` wakes every waiter of that key, the caller re-checks
its condition and either answers or parks again. Timeouts are asyncio timers, so a parked request
costs no polling.

Who may touch: the event loop of the process that owns the keys.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


class Purgatory:
    def __init__(self) -> None:
        self._waiters: dict[object, set[asyncio.Future]] = defaultdict(set)

    def watch(self, keys, timeout_s: float | None = None) -> asyncio.Future:
        """A future that completes with the first key notified, or with None once ``timeout_s``
        passes. Registered at once, so a notify after this call is never missed; the timeout
        also removes a watch whose awaiting task never ran (its connection closed first)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        for k in keys:
            self._waiters[k].add(fut)
        fut.add_done_callback(lambda f, ks=tuple(keys): self._forget(f, ks))
        if timeout_s is not None:
            timer = loop.call_later(max(timeout_s, 0.0), _expire, fut)
            fut.add_done_callback(lambda f: timer.cancel())
        return fut

    def _forget(self, fut, keys) -> None:
        for k in keys:
            s = self._waiters.get(k)
            if s is not None:
                s.discard(fut)
                if not s:
                    del self._waiters[k]

    def notify(self, key) -> None:
        s = self._waiters.get(key)
        if not s:
            return
        for fut in list(s):
            if not fut.done():
                fut.set_result(key)

    def keys(self) -> list:
        """The keys someone waits on (a poller in another process checks only these)."""
        return list(self._waiters)

    def __len__(self) -> int:
        return sum(len(s) for s in self._waiters.values())

    async def wait(self, keys, timeout_s: float) -> bool:
        """Park until one key is notified (True) or ``timeout_s`` passes (False)."""
        fut = self.watch(keys)
        try:
            await asyncio.wait_for(fut, timeout_s)
            return True
        except asyncio.TimeoutError:
            return False
