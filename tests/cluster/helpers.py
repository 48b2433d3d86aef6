"""Test helpers for the ZooKeeper tests: waiting with a deadline, actor processes, clients."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hpbroker.cluster.zk_client import KafkaZkClient

REPO = Path(__file__).resolve().parents[2]
#: ZooKeeper clamps session timeouts to 2-20 ticks (tickTime 500 ms in tests)
SESSION_TIMEOUT_MS = 4000


def wait_until(condition, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``condition()`` until it returns a true value (returned), or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def client(connect: str, **kw) -> KafkaZkClient:
    kw.setdefault("session_timeout_ms", SESSION_TIMEOUT_MS)
    kw.setdefault("connection_timeout_ms", 20000)
    return KafkaZkClient(connect, **kw).start()


class Actor:
    """A tests.cluster.zk_actor process and the events it prints."""

    def __init__(self, connect: str, role: str, broker_id: int, *extra, session_timeout_ms: int = SESSION_TIMEOUT_MS):
        self.broker_id = broker_id
        self.events: list[dict] = []
        self._new: queue.Queue = queue.Queue()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.cluster.zk_actor",
                connect,
                role,
                str(broker_id),
                str(session_timeout_ms),
                *map(str, extra),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            self.events.append(event)
            self._new.put(event)

    def has(self, event: str, **fields) -> dict | None:
        """The latest such event so far."""
        for e in reversed(self.events):
            if e["event"] == event and all(e.get(k) == v for k, v in fields.items()):
                return e
        return None

    def wait_for(self, event: str, timeout: float = 30.0, **fields) -> dict:
        return wait_until(
            lambda: self.has(event, **fields), timeout, what=f"{event} {fields} from actor {self.broker_id}"
        )

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGCONT)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
