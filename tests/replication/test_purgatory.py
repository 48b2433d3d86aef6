"""Purgatory: watches are registered at once, notify wakes them, timeouts complete them with
None and remove them (so an abandoned watch does not stay parked)."""

import asyncio

from hpbroker.replication.purgatory import Purgatory
from hpbroker.testing import wait_until_async


def test_notify_before_await_is_not_lost():
    async def main():
        p = Purgatory()
        fut = p.watch([("t", 0), ("t", 1)], 5.0)
        p.notify(("t", 1))  # before anyone awaits the watch
        assert await asyncio.wait_for(fut, 1.0) == ("t", 1)
        assert len(p) == 0

    asyncio.run(main())


def test_timeout_completes_with_none_and_forgets_the_watch():
    async def main():
        p = Purgatory()
        fut = p.watch([("t", 0)], 0.05)
        assert len(p) == 1 and p.keys() == [("t", 0)]
        assert await asyncio.wait_for(fut, 1.0) is None
        assert len(p) == 0 and p.keys() == []

    asyncio.run(main())


def test_a_watch_nobody_awaits_expires():
    async def main():
        p = Purgatory()
        p.watch([("t", 0)], 0.05)  # its task was cancelled before it ever ran
        await wait_until_async(lambda: len(p) == 0, 5, "the unawaited watch to expire")

    asyncio.run(main())


def test_wait_answers_true_on_notify_false_on_timeout():
    async def main():
        p = Purgatory()
        asyncio.get_running_loop().call_later(0.01, p.notify, "g")
        assert await p.wait(["g"], 1.0) is True
        assert await p.wait(["g"], 0.02) is False
        assert len(p) == 0

    asyncio.run(main())
