"""Bad input and faults around ZooKeeper, with real brokers and a real ZooKeeper: unreachable at
start (a clear error naming zookeeper.connect, and the broker tries again until it joins), silent
while running (the brokers keep serving), a broker's session lost (it registers again with a new
broker epoch; a controller that lost its session resigns), a duplicate broker.id (the second broker refuses to
start, saying why), and malformed znodes written by hand (logged, never a crash loop)."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from hpbroker.cluster import zk_data as zd
from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from hpbroker.testing.zookeeper import ZooKeeperServer, zookeeper_unavailable
from tests.cluster.brokers import CLUSTER_OF_BROKERS, metadata, new_name, produce, wait_for_leaders

pytestmark = [
    pytest.mark.integration,
    CLUSTER_OF_BROKERS,
    pytest.mark.skipif(bool(zookeeper_unavailable()), reason=f"no ZooKeeper: {zookeeper_unavailable()}"),
]


class _Lines:
    """A broker subprocess's stderr, read on a thread."""

    def __init__(self, proc):
        self.lines: list[str] = []
        self._new: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(proc.stderr,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    def find(self, text: str) -> str | None:
        return next((line for line in self.lines if text in line), None)


def _broker_process(data_dir, connect, broker_id=1, extra=(), handlers=0):
    cmd = [sys.executable, "-m", "hpbroker", "--port", "0", "--data-dir", data_dir, "--processors", "1"]
    cmd += ["--handlers", str(handlers), "--override", f"broker.id={broker_id}"]
    cmd += ["--override", f"zookeeper.connect={connect}"]
    cmd += ["--override", "zookeeper.session.timeout.ms=4000", "--override", "zookeeper.connection.timeout.ms=1000"]
    cmd += list(extra)
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    return proc, _Lines(proc)


def _stop(proc):
    from hpbroker.testing import stop_process

    stop_process(proc, 20)


@pytest.mark.parametrize("handlers", [0, 1], ids=["in-process", "multi-process"])
def test_an_unreachable_zookeeper_is_named_and_the_broker_joins_once_it_answers(tmp_path, handlers):
    zk = ZooKeeperServer()  # its port is chosen, nothing listens there yet
    connect = f"{zk.connect}/late"
    proc, out = _broker_process(str(tmp_path), connect, handlers=handlers)
    try:
        line = wait_until(lambda: out.find("cannot reach ZooKeeper"), 30, "the broker to say ZooKeeper is unreachable")
        assert f"zookeeper.connect={connect}" in line and "trying again" in line
        assert proc.poll() is None  # it keeps trying
        zk.start()
        wait_until(lambda: out.find("listening on"), 40, "the broker to join once ZooKeeper answers")
        assert proc.poll() is None
    finally:
        _stop(proc)
        zk.close()


def test_a_broker_waiting_for_zookeeper_stops_on_sigterm(tmp_path):
    zk = ZooKeeperServer()  # nothing listens there
    proc, out = _broker_process(str(tmp_path), f"{zk.connect}/never", handlers=1)
    try:
        wait_until(lambda: out.find("cannot reach ZooKeeper"), 30, "the broker to say ZooKeeper is unreachable")
        os.kill(proc.pid, signal.SIGTERM)  # the supervisor alone
        assert proc.wait(15) == 0
        assert out.find("hpbroker stopped cleanly")
    finally:
        _stop(proc)
        zk.close()


@pytest.mark.parametrize("handlers", [0, 1], ids=["in-process", "multi-process"])
def test_a_duplicate_broker_id_refuses_to_start_saying_why(zookeeper_server, tmp_path, handlers):
    zookeeper_server.start()
    with running_cluster(1, zookeeper=zookeeper_server) as cluster:
        proc, out = _broker_process(str(tmp_path), cluster.zookeeper_connect, broker_id=1, handlers=handlers)
        try:
            assert proc.wait(40) != 0
        finally:
            _stop(proc)
        line = out.find("cannot start")
        assert line is not None and "broker.id 1 is already registered" in line, "".join(out.lines[-10:])
        assert cluster.brokers[1].running
        with cluster.zk_client() as zk:
            assert zk.get_sorted_broker_list() == [1]


def test_a_silent_zookeeper_leaves_the_brokers_serving(private_zookeeper):
    zk_server = private_zookeeper
    with running_cluster(2, zookeeper=zk_server) as cluster:
        name = new_name("silent")
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        for f in admin.create_topics([NewTopic(name, 2, 1)]).values():
            f.result(20)
        before = wait_for_leaders(cluster, name, 2)
        zk_server.pause()
        try:
            paused_at = time.monotonic()
            for p, leader in before.items():  # ZooKeeper silent: the leaders keep serving
                assert produce(cluster.brokers[leader].bootstrap, name, p, [b"while-silent"])[0] == 0
            # past the session timeout: the sessions expire, or survive if the brokers reconnect first
            wait_until(lambda: time.monotonic() > paused_at + cluster.session_timeout_ms / 1000 + 1, 20, "the outage")
            for p, leader in before.items():
                assert produce(cluster.brokers[leader].bootstrap, name, p, [b"still"])[0] == 0
        finally:
            zk_server.resume()
        with cluster.zk_client() as zk:
            wait_until(lambda: zk.get_sorted_broker_list() == [1, 2], 45, "both brokers registered")
            wait_until(lambda: zk.get_controller_id() in (1, 2), 30, "a controller")
        assert wait_for_leaders(cluster, name, 2, timeout=30) == before


def test_a_lost_session_makes_the_broker_register_again_and_the_controller_resign(zookeeper_server):
    zookeeper_server.start()
    with running_cluster(2, zookeeper=zookeeper_server) as cluster:
        name = new_name("lost")
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        for f in admin.create_topics([NewTopic(name, 2, 1)]).values():
            f.result(20)
        before = wait_for_leaders(cluster, name, 2)
        with cluster.zk_client() as zk:
            old = zk.get_controller_id()
            epoch = {i: e for i, (_, e) in zk.get_all_brokers_and_epochs().items()}[old]
            zombie = cluster.brokers[old]
            zombie.pause()  # silent past its session: ZooKeeper expires it, the other broker takes over
            try:
                new = wait_until(
                    lambda: (c := zk.get_controller_id()) not in (None, old) and c, 30, "another controller"
                )
            finally:
                zombie.resume()
            wait_until(
                lambda: zk.get_all_brokers_and_epochs().get(old, (None, -1))[1] > epoch,
                45,
                "the resumed broker to register again with a new broker epoch",
            )
            assert zk.get_controller_id() == new  # the resumed one resigned, and did not come back
        wait_until(lambda: any("ZooKeeper session expired" in line for line in zombie.log), 15, "the broker to say so")
        assert wait_for_leaders(cluster, name, 2, timeout=30) == before
        for p, leader in before.items():
            wait_until(
                lambda p=p, leader=leader: produce(cluster.brokers[leader].bootstrap, name, p, [b"after"])[0] == 0,
                30,
                "the partitions back",
            )


def test_malformed_znodes_are_logged_and_the_cluster_goes_on(zookeeper_server):
    zookeeper_server.start()
    with running_cluster(1, zookeeper=zookeeper_server) as cluster:
        b = cluster.brokers[1]
        with cluster.zk_client() as zk:
            zk.create_recursive(zd.topic_path("handmade"), b"{not json")
            zk.create_recursive(f"{zd.CONFIG_CHANGES_PATH}/{zd.CONFIG_CHANGE_PREFIX}0000009999", b"[1,2]")
            zk.create_recursive(zd.broker_path(77), b'{"version":5}')  # no endpoints
        wait_until(lambda: any("malformed znode" in line for line in b.log), 15, "the broker to report them")
        name = new_name("after-garbage")
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        for f in admin.create_topics([NewTopic(name, 2, 1)]).values():
            f.result(20)
        wait_for_leaders(cluster, name, 2)
        assert b.running
        assert sorted(n["node_id"] for n in metadata(b.bootstrap)["brokers"]) == [1]
        assert os.path.isdir(b.data_dir)
