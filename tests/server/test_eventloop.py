"""Picking the event loop: --event-loop / HPBROKER_EVENT_LOOP (server/eventloop.py)."""

import asyncio
import sys

import pytest

from hpbroker import cli
from hpbroker.server import eventloop


def test_asyncio_is_the_default(monkeypatch):
    monkeypatch.delenv(eventloop.ENV, raising=False)
    assert eventloop.default_loop() == "asyncio"

    async def main():
        await asyncio.sleep(0)
        return eventloop.running_loop_name()

    assert eventloop.run(main()) == "asyncio"


def test_environment_picks_the_loop(monkeypatch):
    monkeypatch.setenv(eventloop.ENV, " UVloop ")
    assert eventloop.default_loop() == "uvloop"


def test_unknown_loop_is_refused():
    with pytest.raises(eventloop.EventLoopError, match="unknown event loop"):
        eventloop.check("epoll")
    assert cli.main(["--event-loop", "epoll", "--data-dir", "/nonexistent"]) == 2


def test_uvloop_missing_is_an_error_not_a_fallback(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails
    with pytest.raises(eventloop.EventLoopError, match="pip install uvloop"):
        eventloop.check("uvloop")


def test_uvloop_runs_the_coroutine_and_cancels_leftovers():
    pytest.importorskip("uvloop")
    left = []

    async def forever():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            left.append("cancelled")
            raise

    async def main():
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)
        return eventloop.running_loop_name()

    assert eventloop.run(main(), "uvloop") == "uvloop"
    assert left == ["cancelled"]
