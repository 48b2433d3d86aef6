"""A cluster for tests: one ZooKeeper and N hpbroker processes.

    from hpbroker.testing.cluster import running_cluster

    with running_cluster(3) as cluster:
        cluster.zookeeper_connect          # "127.0.0.1:PORT/hpbroker-<hex>": the cluster's chroot
        cluster.bootstrap                  # "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
        cluster.bootstrap_of("SASL_SSL")   # the same, on another listener (``config`` names them)
        cluster.brokers[1].kill()          # SIGKILL; .start() brings it back on its port and data
        cluster.brokers[2].stop()          # SIGTERM
        cluster.brokers[3].pause()         # SIGSTOP; .resume() is SIGCONT
        with cluster.zk_client() as zk:    # what ZooKeeper holds, through KafkaZkClient
            zk.get_all_brokers_and_epochs()

Each broker is a subprocess (``python -m hpbroker``, in-process topology unless ``args`` say
otherwise) with a data directory and port of its own, kept across restarts, and the overrides
``broker.id``, ``zookeeper.connect`` and ``zookeeper.session.timeout.ms``: the brokers register in
ZooKeeper, elect a controller and form a cluster. ``config`` may give them other listeners
(``listeners``, TLS and SASL settings, an inter-broker listener), all on port 0: ``bootstrap`` is
the first listener's, kept across restarts; the others are chosen anew at each start. The ZooKeeper is the caller's (a
``ZooKeeperServer``, e.g. the ``zookeeper_server`` fixture's) or the cluster's own; each cluster
has a chroot of its own on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import uuid
from contextlib import contextmanager

from hpbroker.testing import RunningBroker, running_broker
from hpbroker.testing.zookeeper import ZooKeeperServer

#: ZooKeeper clamps session timeouts to 2-20 ticks: 1-10 s with the test server's 500 ms tick
TEST_SESSION_TIMEOUT_MS = 4000


class ClusterBroker:
    """One broker of the cluster. Who may touch: the test's thread."""

    def __init__(
        self,
        broker_id: int,
        data_dir: str,
        config: dict,
        args: list[str],
        startup_timeout: float,
        port: int = 0,
        log_file: str | None = None,
    ):
        self.broker_id = broker_id
        self.data_dir = data_dir
        self.config = config
        self.args = args
        self.startup_timeout = startup_timeout
        self.port = port  # 0: chosen at the first start, then kept
        self.log_file = log_file
        self._running: RunningBroker | None = None
        self._stack: contextlib.ExitStack | None = None
        self._last_log: list[str] = []

    @property
    def running(self) -> bool:
        return self._running is not None and self._running.process.poll() is None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def listener(self, name: str) -> str:
        """ "host:port" a client of listener ``name`` connects to (its advertised endpoint)."""
        if self._running is None:
            raise RuntimeError(f"broker {self.broker_id} is not running")
        return self._running.listeners[name]

    @property
    def pid(self) -> int | None:
        return self._running.process.pid if self._running else None

    @property
    def log(self) -> list[str]:
        """The broker's stderr lines so far (its log); once stopped, those of its last run."""
        return self._running.extra["log"] if self._running else self._last_log

    def start(self) -> ClusterBroker:
        if self._running is not None:
            raise RuntimeError(f"broker {self.broker_id} is already started")
        stack = contextlib.ExitStack()
        self._running = stack.enter_context(
            running_broker(
                subprocess=True,
                data_dir=self.data_dir,
                port=self.port,
                config=self.config,
                args=self.args,
                startup_timeout=self.startup_timeout,
                log_file=self.log_file,
            )
        )
        self._stack = stack
        self.port = self._running.port
        return self

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time (hpbroker.testing.stop_process)."""
        stack, self._stack, running, self._running = self._stack, None, self._running, None
        if stack is not None:
            stack.close()
        if running is not None:
            self._last_log = running.extra["log"]

    def kill(self) -> None:
        """SIGKILL: a crash; the data directory stays as the process left it."""
        if self.running:
            self.signal(signal.SIGKILL)
        self.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def signal(self, sig: int) -> None:
        if self._running is None:
            raise RuntimeError(f"broker {self.broker_id} is not running")
        os.killpg(self._running.process.pid, sig)


class RunningCluster:
    def __init__(
        self,
        zookeeper: ZooKeeperServer,
        zookeeper_connect: str,
        brokers: dict[int, ClusterBroker],
        session_timeout_ms: int,
    ):
        self.zookeeper = zookeeper
        self.zookeeper_connect = zookeeper_connect
        self.brokers = brokers
        self.session_timeout_ms = session_timeout_ms

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers.values() if b.running)

    def bootstrap_of(self, listener: str) -> str:
        """The running brokers' endpoints of one listener (a secured cluster's clients use it)."""
        return ",".join(b.listener(listener) for b in self.brokers.values() if b.running)

    def zk_client(self):
        """A started KafkaZkClient on the cluster's chroot (close it, or use it in ``with``)."""
        from hpbroker.cluster.zk_client import KafkaZkClient

        return KafkaZkClient(
            self.zookeeper_connect, session_timeout_ms=self.session_timeout_ms, connection_timeout_ms=20000
        ).start()


@contextmanager
def running_cluster(
    brokers: int = 3,
    *,
    zookeeper: ZooKeeperServer | None = None,
    config: dict | None = None,
    broker_config: dict[int, dict] | None = None,
    args: list[str] | None = None,
    session_timeout_ms: int = TEST_SESSION_TIMEOUT_MS,
    startup_timeout: float = 30.0,
    start: bool = True,
    base_dir: str | None = None,
    ports: list[int] | None = None,
    chroot: str | None = None,
):
    """``brokers`` brokers with ids 1..N. ``config`` applies to all of them, ``broker_config[id]``
    to one; ``start=False`` leaves them for the test to start. Everything is stopped and the
    data directories removed afterwards (the ZooKeeper too, if the cluster started its own).
    ``base_dir``: the brokers' directories (broker-N, with broker-N.log beside), kept afterwards;
    ``ports``: each broker's port; ``chroot``: the cluster's chroot (default: a new one)."""
    base = base_dir or tempfile.mkdtemp(prefix="hpbroker-cluster-")
    with contextlib.ExitStack() as stack:
        if base_dir is None:
            stack.callback(shutil.rmtree, base, ignore_errors=True)
        if zookeeper is None:
            zookeeper = stack.enter_context(ZooKeeperServer())
        connect = f"{zookeeper.connect}{chroot or '/hpbroker-' + uuid.uuid4().hex[:8]}"
        members: dict[int, ClusterBroker] = {}
        for broker_id in range(1, brokers + 1):
            props = {
                "broker.id": broker_id,
                "zookeeper.connect": connect,
                "zookeeper.session.timeout.ms": session_timeout_ms,
                # the last broker of a stopping cluster cannot move its replicated leaderships:
                # its controlled shutdown gives up after three short attempts, not 3 x 5 s
                "controlled.shutdown.retry.backoff.ms": 300,
            }
            props.update(config or {})
            props.update((broker_config or {}).get(broker_id, {}))
            data_dir = os.path.join(base, f"broker-{broker_id}")
            os.makedirs(data_dir, exist_ok=base_dir is not None)
            members[broker_id] = ClusterBroker(
                broker_id,
                data_dir,
                props,
                list(args or []),
                startup_timeout,
                port=ports[broker_id - 1] if ports else 0,
                log_file=os.path.join(base, f"broker-{broker_id}.log") if base_dir is not None else None,
            )
            stack.callback(members[broker_id].stop)
        if start:
            for b in members.values():
                b.start()
        yield RunningCluster(zookeeper, connect, members, session_timeout_ms)
