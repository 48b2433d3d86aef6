"""wait_until / wait_until_async: a test waits for a condition with a deadline, and a failure
says what it waited for (Kafka's TestUtils.waitUntilTrue)."""

import asyncio
import itertools
import time

import pytest

from hpbroker.testing import wait_until, wait_until_async


def test_returns_the_first_true_value():
    calls = itertools.count(1)
    assert wait_until(lambda: next(calls) >= 3 and "ready", 5, "three calls", interval=0.001) == "ready"
    assert next(calls) == 4


def test_a_condition_that_never_comes_fails_naming_it_after_the_deadline():
    calls = []
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"timed out after 0\.2 s waiting for the moon"):
        wait_until(lambda: calls.append(1), 0.2, "the moon", interval=0.05)
    assert time.monotonic() - started >= 0.2
    assert len(calls) >= 2  # the first call, and one at the deadline


def test_async_polls_between_the_loop_s_other_tasks():
    async def main():
        done = []
        asyncio.get_running_loop().call_later(0.02, done.append, "x")
        assert await wait_until_async(lambda: done, 5, "the callback") == ["x"]

        async def check():
            return bool(done)

        assert await wait_until_async(check, 5, "a coroutine predicate") is True
        with pytest.raises(AssertionError, match="waiting for nothing"):
            await wait_until_async(lambda: False, 0.05, "nothing")

    asyncio.run(main())
