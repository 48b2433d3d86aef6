"""A real standalone ZooKeeper for tests: the Debian ``zookeeper`` package's jar, run by java.

    from hpbroker.testing.zookeeper import ZooKeeperServer

    with ZooKeeperServer() as zk:             # a free port, a temporary data directory
        client = KazooClient(zk.connect)      # "127.0.0.1:PORT"
        zk.restart()                          # the same data directory and port: sessions survive
        zk.pause(); zk.resume()               # SIGSTOP / SIGCONT: clients see a silent server
        zk.kill()                             # SIGKILL, then start() again on the same data

The server runs as ``ZooKeeperServerMain`` with a generated zoo.cfg (tickTime 500 ms, so session
timeouts may be 1-10 s: ZooKeeper clamps them to 2-20 ticks), no AdminServer (Jetty would take
port 8080) and the four-letter words ``ruok``, ``srvr`` and ``mntr``. It is ready when ``srvr``
reports its mode: ``ruok`` answers ``imok`` earlier, while the server still refuses sessions
("This ZooKeeper instance is not currently serving requests"). ``zkServer.sh`` is not used: it reads /etc/zookeeper/conf/environment and logs
to /var/log/zookeeper. The server's own log is ``<dir>/zookeeper.log``.

``zookeeper_unavailable()`` says why no server can be started here (no java, no jar), or None;
the pytest fixtures skip with that reason. The server is killed when the thread that started it
ends (util-linux's ``setpriv --pdeathsig``), so start it from a thread that outlives its use (a
test's own thread does). Who may touch: one test (thread) at a time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from hpbroker import environment

ZOOKEEPER_JAR = environment.value("HPBROKER_ZOOKEEPER_JAR")
#: the log4j binding and log4j itself, so the server's log says something; optional
_LOGGING_JARS = ("/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar")
_LOG4J_CONFIG = "/etc/zookeeper/conf_example/log4j.properties"
TICK_TIME_MS = 500


def zookeeper_unavailable() -> str | None:
    """None if a ZooKeeper server can be started here, else why not."""
    if shutil.which("java") is None:
        return "java is not installed (apt-get install zookeeper pulls it in)"
    if not os.path.isfile(ZOOKEEPER_JAR):
        return f"{ZOOKEEPER_JAR} is missing (apt-get install zookeeper)"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def four_letter_word(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Send a four-letter command (ruok, srvr, mntr) and return the whole answer."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode())
        chunks = []
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


class ZooKeeperServer:
    """One standalone ZooKeeper process; a context manager that starts it and, on exit, stops it
    and removes its directory (unless ``data_dir`` was given)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | None = None,
        tick_time_ms: int = TICK_TIME_MS,
        startup_timeout: float = 30.0,
    ):
        reason = zookeeper_unavailable()
        if reason:
            raise RuntimeError(f"cannot run ZooKeeper: {reason}")
        self.host = host
        self.port = port or free_port(host)
        self._own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="hpbroker-zk-")
        self.tick_time_ms = tick_time_ms
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self._write_config()

    # -- addresses ---------------------------------------------------------------------------
    @property
    def connect(self) -> str:
        """The connect string, "host:port" (append "/chroot" for a chroot)."""
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "zookeeper.log")

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> ZooKeeperServer:
        if self.running:
            return self
        cp = ":".join([ZOOKEEPER_JAR] + [j for j in _LOGGING_JARS if os.path.isfile(j)])
        cmd = [
            "java",
            "-Xms32m",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dzookeeper.log.dir={self.dir}",
            "-Dzookeeper.root.logger=INFO,CONSOLE",
        ]
        if os.path.isfile(_LOG4J_CONFIG):
            cmd.append(f"-Dlog4j.configuration=file:{_LOG4J_CONFIG}")
        cmd += ["-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain", os.path.join(self.dir, "zoo.cfg")]
        if shutil.which("setpriv"):
            # the server dies with the thread that started it (prctl PR_SET_PDEATHSIG): a test run
            # killed before its clean-up leaves no JVM behind
            cmd = ["setpriv", "--pdeathsig", "KILL"] + cmd
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        finally:
            log.close()
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        """Until the server serves (``serving()``); raises with the server's log if it exits or
        the deadline passes."""
        deadline = time.monotonic() + (self.startup_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited during start-up:\n{self.log_tail()}")
            if self.serving():
                return
            time.sleep(0.05)
        raise TimeoutError(f"ZooKeeper did not start serving on {self.connect}:\n{self.log_tail()}")

    def serving(self) -> bool:
        """True when ``srvr`` reports a mode (standalone, leader, follower)."""
        try:
            return "Mode: " in four_letter_word(self.host, self.port, "srvr", timeout=1.0)
        except OSError:
            return False

    def ruok(self) -> bool:
        try:
            return four_letter_word(self.host, self.port, "ruok", timeout=1.0) == "imok"
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (a clean stop), then SIGKILL after ``timeout``."""
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: a crash. The data directory stays, so ``start()`` recovers from it."""
        self._signal_and_wait(signal.SIGKILL, 10.0)

    def restart(self) -> None:
        """Stop and start on the same data directory and port: sessions, ephemeral znodes and
        their owners survive if clients reconnect within their session timeout."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its port but answers nothing, as a hung server would."""
        self._require_running().send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._require_running().send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Stop the server and remove its directory if it made it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ZooKeeperServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _write_config(self) -> None:
        with open(os.path.join(self.dir, "zoo.cfg"), "w") as f:
            f.write(
                f"tickTime={self.tick_time_ms}\n"
                f"dataDir={os.path.join(self.dir, 'data')}\n"
                f"clientPort={self.port}\n"
                f"clientPortAddress={self.host}\n"
                "maxClientCnxns=0\n"
                "admin.enableServer=false\n"
                "4lw.commands.whitelist=ruok,srvr,mntr\n"
            )

    def _require_running(self) -> subprocess.Popen:
        if not self.running:
            raise RuntimeError("ZooKeeper is not running")
        return self.process

    def _signal_and_wait(self, sig: int, timeout: float) -> None:
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
                os.killpg(proc.pid, signal.SIGCONT)  # a paused JVM acts on SIGTERM only when continued
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.process = None
