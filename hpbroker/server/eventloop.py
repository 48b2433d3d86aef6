"""Which event loop runs the broker: the standard asyncio loop (default) or uvloop.

    hpbroker --event-loop uvloop ...          # or HPBROKER_EVENT_LOOP=uvloop
    pip install uvloop                        # not a dependency: see tuning.md, "Event loop"

The choice applies to every process of the topology (the supervisor hands it to each child it
forks) and to the in-process mode. The connection code needs only ``add_reader`` /
``add_writer`` / ``call_soon`` / ``call_later`` / ``create_task`` / ``add_signal_handler`` on
raw non-blocking sockets (sendfile and sendmsg are plain ``os`` / ``socket`` calls), which both
loops provide. Asking for uvloop when it is not installed is a start-up error, not a silent
fallback: a benchmark must run what it says it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from hpbroker import environment

LOOPS = ("asyncio", "uvloop")
ENV = "HPBROKER_EVENT_LOOP"


class EventLoopError(ValueError):
    pass


def default_loop() -> str:
    return environment.value(ENV).strip().lower() or "asyncio"


def loop_factory(name: str):
    """A zero-argument callable that makes a new loop of kind ``name``."""
    name = name.strip().lower()
    if name == "asyncio":
        return asyncio.new_event_loop
    if name == "uvloop":
        try:
            import uvloop
        except ImportError as exc:
            raise EventLoopError("--event-loop uvloop needs the uvloop package (pip install uvloop)") from exc
        return uvloop.new_event_loop
    raise EventLoopError(f"unknown event loop {name!r} (choose from {', '.join(LOOPS)})")


def check(name: str) -> str:
    """Validate ``name`` (and that its package imports) before any process is forked."""
    loop_factory(name)
    return name.strip().lower()


def run(coro: Coroutine[Any, Any, Any], name: str | None = None) -> Any:
    """``asyncio.run(coro)`` on a fresh loop of kind ``name`` (default: HPBROKER_EVENT_LOOP or asyncio)."""
    factory = loop_factory(name or default_loop())
    loop = factory()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(_main(coro))
    finally:
        try:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            if hasattr(loop, "shutdown_default_executor"):
                loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def _main(coro):
    return await coro


def _cancel_all(loop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not tasks:
        return
    for t in tasks:
        t.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def running_loop_name() -> str:
    """'uvloop' or 'asyncio': what the current process actually runs (for logs and tests)."""
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
