"""Bad input and faults around ZooKeeper, with real brokers and a real ZooKeeper: unreachable at
start (a clear error naming zookeeper.connect, and the broker tries again until it joins), lost
while running (the broker keeps serving, and registers again with a new broker epoch once a new
session comes; the controller role comes back), a duplicate broker.id (the second broker refuses to
start, saying why), and malformed znodes written by hand (logged, never a crash loop)."""

import os
import queue
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
from tests.cluster.brokers import metadata, new_name, produce, wait_for_leaders

pytestmark = [
    pytest.mark.integration,
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


def _broker_process(data_dir, connect, broker_id=1, extra=()):
    cmd = [sys.executable, "-m", "hpbroker", "--port", "0", "--data-dir", data_dir, "--processors", "1"]
    cmd += ["--handlers", "0", "--override", f"broker.id={broker_id}", "--override", f"zookeeper.connect={connect}"]
    cmd += ["--override", "zookeeper.session.timeout.ms=4000", "--override", "zookeeper.connection.timeout.ms=1000"]
    cmd += list(extra)
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    return proc, _Lines(proc)


def _stop(proc):
    from hpbroker.testing import stop_process

    stop_process(proc, 20)


def test_an_unreachable_zookeeper_is_named_and_the_broker_joins_once_it_answers(tmp_path):
    zk = ZooKeeperServer()  # its port is chosen, nothing listens there yet
    connect = f"{zk.connect}/late"
    proc, out = _broker_process(str(tmp_path), connect)
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


def test_a_duplicate_broker_id_refuses_to_start_saying_why(zookeeper_server, tmp_path):
    zookeeper_server.start()
    with running_cluster(1, zookeeper=zookeeper_server) as cluster:
        proc, out = _broker_process(str(tmp_path), cluster.zookeeper_connect, broker_id=1)
        try:
            assert proc.wait(40) != 0
        finally:
            _stop(proc)
        line = out.find("cannot start")
        assert line is not None and "broker.id 1 is already registered" in line, "".join(out.lines[-10:])
        assert cluster.brokers[1].running
        with cluster.zk_client() as zk:
            assert zk.get_sorted_broker_list() == [1]


def test_a_lost_session_keeps_the_broker_serving_and_it_registers_again(private_zookeeper):
    zk_server = private_zookeeper
    with running_cluster(2, zookeeper=zk_server) as cluster:
        name = new_name("lost")
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        for f in admin.create_topics([NewTopic(name, 2, 1)]).values():
            f.result(20)
        before = wait_for_leaders(cluster, name, 2)
        with cluster.zk_client() as zk:
            epochs = {i: e for i, (_, e) in zk.get_all_brokers_and_epochs().items()}
        zk_server.pause()
        try:
            paused_at = time.monotonic()
            for p, leader in before.items():  # ZooKeeper silent: the leaders keep serving
                assert produce(cluster.brokers[leader].bootstrap, name, p, [b"while-lost"])[0] == 0
            # outlast the session timeout: ZooKeeper expires the sessions once it runs again
            wait_until(lambda: time.monotonic() > paused_at + cluster.session_timeout_ms / 1000 + 1, 20, "the outage")
        finally:
            zk_server.resume()
        with cluster.zk_client() as zk:
            wait_until(
                lambda: (
                    {i: e for i, (_, e) in zk.get_all_brokers_and_epochs().items()}.keys() == {1, 2}
                    and all(e > epochs[i] for i, (_, e) in zk.get_all_brokers_and_epochs().items())
                ),
                45,
                "both brokers to register again with new broker epochs",
            )
            wait_until(lambda: zk.get_controller_id() in (1, 2), 30, "a controller again")
        for b in cluster.brokers.values():
            assert any("ZooKeeper session expired" in line for line in b.log)
        assert wait_for_leaders(cluster, name, 2) == before
        for p, leader in before.items():
            assert produce(cluster.brokers[leader].bootstrap, name, p, [b"after"])[0] == 0


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
