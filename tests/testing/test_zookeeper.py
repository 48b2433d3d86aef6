"""hpbroker.testing.zookeeper and the ZooKeeper fixtures: a real ZooKeeper from the Debian jar."""

import os

import pytest
from kazoo.client import KazooClient

from hpbroker.testing import zookeeper as zkmod
from hpbroker.testing.zookeeper import ZooKeeperServer, four_letter_word, zookeeper_unavailable

needs_zookeeper = pytest.mark.skipif(bool(zookeeper_unavailable()), reason=f"no ZooKeeper: {zookeeper_unavailable()}")


def _client(connect):
    c = KazooClient(connect, timeout=4.0)
    c.start(timeout=15)
    return c


def test_restart_keeps_data_and_port(private_zookeeper):
    zk = private_zookeeper
    c = _client(zk.connect)
    try:
        c.create("/kept", b"v")
        port, pid = zk.port, zk.process.pid
        zk.restart()
        assert zk.port == port and zk.process.pid != pid and zk.ruok()
        assert c.retry(c.get, "/kept")[0] == b"v"  # the client reconnects to the same address
    finally:
        c.stop()
        c.close()


def test_kill_then_start_recovers_from_the_data_dir(private_zookeeper):
    zk = private_zookeeper
    c = _client(zk.connect)
    c.create("/durable", b"x")
    c.stop()
    c.close()
    zk.kill()
    assert not zk.running and not zk.ruok()
    zk.start()
    c = _client(zk.connect)
    try:
        assert c.get("/durable")[0] == b"x"
    finally:
        c.stop()
        c.close()


def test_pause_silences_the_server_until_resumed(private_zookeeper):
    zk = private_zookeeper
    assert "Mode: standalone" in four_letter_word(zk.host, zk.port, "srvr")  # ready = serving
    zk.pause()
    try:
        assert not zk.ruok() and not zk.serving()  # the port accepts, nothing answers
    finally:
        zk.resume()
    zk.wait_ready(10)
    assert zk.ruok()


@needs_zookeeper
def test_close_stops_the_process_and_removes_its_directory():
    with ZooKeeperServer() as zk:
        proc, directory = zk.process, zk.dir
        assert os.path.isfile(os.path.join(directory, "zoo.cfg"))
        zk.pause()  # even a paused server is stopped
    assert proc.poll() is not None
    assert not os.path.exists(directory)


def test_each_test_gets_its_own_chroot(zookeeper_server, zookeeper_connect):
    hosts, chroot = zookeeper_connect.split("/", 1)
    assert hosts == zookeeper_server.connect
    bare = _client(hosts)
    try:
        bare.ensure_path("/" + chroot)
        inside = _client(zookeeper_connect)
        try:
            inside.create("/mine", b"1")
        finally:
            inside.stop()
            inside.close()
        assert bare.get(f"/{chroot}/mine")[0] == b"1"
        assert not bare.exists("/mine")
    finally:
        bare.stop()
        bare.close()


def test_unavailable_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(zkmod, "ZOOKEEPER_JAR", str(tmp_path / "missing.jar"))
    reason = zkmod.zookeeper_unavailable()
    assert "missing.jar" in reason and "apt-get install zookeeper" in reason
    with pytest.raises(RuntimeError, match="cannot run ZooKeeper"):
        ZooKeeperServer()
