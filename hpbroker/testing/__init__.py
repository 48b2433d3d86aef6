"""Start a real hpbroker for your own tests, in well under a second, without a JVM or Docker.

    from hpbroker.testing import running_broker

    with running_broker() as broker:          # in-process (a background thread)
        producer = Producer({"bootstrap.servers": broker.bootstrap})

    with running_broker(subprocess=True) as broker:   # a separate `python -m hpbroker`
        ...

    with running_broker(subprocess=True, args=["--processors", "2", "--handlers", "2"]) as b:
        ...                                           # the multi-process topology

With pytest, the plugin (installed with hpbroker) gives the fixture ``hpbroker_bootstrap``: a
broker per test module on a free port with a temporary data directory, as "host:port".

A test waits for what it expects with a deadline, never for a fixed time::

    wait_until(lambda: consumer_sees(10), 15, "ten records at the consumer")
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess as _subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class RunningBroker:
    bootstrap: str
    data_dir: str
    host: str
    port: int
    process: _subprocess.Popen | None = None
    _server: object = None
    _thread: threading.Thread | None = None
    extra: dict = field(default_factory=dict)
    #: listener name -> "host:port" a client of that listener connects to (its advertised endpoint)
    listeners: dict[str, str] = field(default_factory=dict)

    @property
    def server(self):
        """The in-process BrokerServer (None in subprocess mode)."""
        return self._server


def _props(data_dir: str, port: int, host: str, overrides: dict | None) -> dict:
    props = {"listeners": f"PLAINTEXT://{host}:{port}", "log.dirs": data_dir}
    props.update({k: str(v) for k, v in (overrides or {}).items()})
    return props


@contextmanager
def running_broker(
    *,
    subprocess: bool = False,
    data_dir: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    config: dict | None = None,
    args: list[str] | None = None,
    startup_timeout: float = 30.0,
    open_files: int | None = None,
    log_file: str | None = None,
):
    """A broker for the duration of the ``with`` block; its data dir is removed afterwards unless
    ``data_dir`` was given (so a test can restart a broker on the same data). ``open_files``
    (subprocess only) starts it under that RLIMIT_NOFILE, soft and hard; ``log_file``
    (subprocess only) gets a copy of its log."""
    own_dir = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix="hpbroker-")
    try:
        if subprocess:
            with _subprocess_broker(
                data_dir, host, port, config, args or [], startup_timeout, open_files, log_file
            ) as b:
                yield b
        else:
            with _inprocess_broker(data_dir, host, port, config, startup_timeout) as b:
                yield b
    finally:
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def _inprocess_broker(data_dir, host, port, config, timeout):
    from hpbroker.config import BrokerConfig
    from hpbroker.server import eventloop
    from hpbroker.server.broker import BrokerServer

    server = BrokerServer(BrokerConfig(_props(data_dir, port, host, config)))
    ready = threading.Event()
    failure: list[BaseException] = []

    def run():
        async def main():
            try:
                await server.start()
            except BaseException as exc:  # surface start-up errors to the caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                await server.serve_until_stopped()
            finally:
                await server.stop()

        eventloop.run(main())  # HPBROKER_EVENT_LOOP picks it, as for `hpbroker`

    thread = threading.Thread(target=run, name="hpbroker", daemon=True)
    thread.start()
    if not ready.wait(timeout):
        raise TimeoutError("hpbroker did not start")
    if failure:
        raise failure[0]
    node = server.broker.node
    listeners = {name: f"{h}:{p}" for name, h, p in node.endpoints}
    try:
        yield RunningBroker(
            f"{node.host}:{node.port}",
            data_dir,
            node.host,
            node.port,
            _server=server,
            _thread=thread,
            listeners=listeners,
        )
    finally:
        server.request_stop()
        thread.join(timeout)


_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_LISTENER = re.compile(r"listener (\S+) \(\S+\) on \S*:\d+, advertised as (\S+:\d+)")


_LIMITED = (
    "import resource, runpy, sys; n = int(sys.argv.pop(1)); "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); runpy.run_module('hpbroker', run_name='__main__')"
)


@contextmanager
def _subprocess_broker(data_dir, host, port, config, args, timeout, open_files=None, log_file=None):
    cmd = (
        [sys.executable, "-m", "hpbroker"] if open_files is None else [sys.executable, "-c", _LIMITED, str(open_files)]
    )
    cmd += ["--host", host, "--port", str(port), "--data-dir", data_dir]
    for k, v in (config or {}).items():
        cmd += ["--override", f"{k}={v}"]
    if "--processors" not in args and "--handlers" not in args:
        # the broker's own default is one processor and handler per core; a test broker is
        # in-process unless the test asks for the multi-process topology
        cmd += ["--processors", "1", "--handlers", "0"]
    cmd += args
    proc = _subprocess.Popen(
        cmd, stderr=_subprocess.PIPE, stdout=_subprocess.DEVNULL, text=True, start_new_session=True
    )
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    bound = None
    listeners: dict[str, str] = {}
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            listener = _LISTENER.search(line)  # one per listener, before "listening on"
            if listener is not None:
                listeners[listener.group(1)] = listener.group(2)
            if log_file is not None:
                with open(log_file, "a") as f:
                    f.write(line)
            m = _LISTENING.search(line)
            if m:
                bound = (m.group(1), int(m.group(2)))
                break
        if bound is None:
            raise RuntimeError("hpbroker did not start:\n" + "".join(lines))

        # keep draining stderr so the broker never blocks on a full pipe
        drain = threading.Thread(target=_drain, args=(proc.stderr, lines, log_file), daemon=True)
        drain.start()
        yield RunningBroker(
            f"{bound[0]}:{bound[1]}",
            data_dir,
            bound[0],
            bound[1],
            process=proc,
            extra={"log": lines},
            listeners=listeners,
        )
    finally:
        stop_process(proc, timeout)


def _drain(stream, lines, log_file):
    out = open(log_file, "a") if log_file is not None else None
    try:
        for line in stream:
            lines.append(line)
            if out is not None:
                out.write(line)
                out.flush()
            if len(lines) > 10000:
                del lines[:5000]
    finally:
        if out is not None:
            out.close()


def stop_process(proc: _subprocess.Popen, timeout: float = 30.0) -> int | None:
    """SIGTERM, wait, then SIGKILL the whole process group: no orphan survives a test."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except _subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.wait(5)
    except _subprocess.TimeoutExpired:
        return None


def wait_until(predicate: Callable[[], T], timeout: float, what: str, *, interval: float = 0.05) -> T:
    """Call ``predicate`` until it returns a true value and return that value; after ``timeout``
    seconds without one, fail with an AssertionError saying ``what`` was awaited (Kafka's
    TestUtils.waitUntilTrue). The predicate runs at least once and once more at the deadline, so
    a slow machine fails only when the condition really did not come."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(interval, left))


async def wait_until_async(
    predicate: Callable[[], T | Awaitable[T]], timeout: float, what: str, *, interval: float = 0.01
) -> T:
    """``wait_until`` inside an event loop: the loop runs other tasks between the polls, and
    ``predicate`` may be a coroutine function."""
    import asyncio
    import inspect

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(min(interval, left))
