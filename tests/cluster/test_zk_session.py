"""ZooKeeper session states as the broker sees them, against a real ZooKeeper that is restarted,
silenced (SIGSTOP) or that expires sessions: SUSPENDED then CONNECTED while the session lives,
LOST then CONNECTED with a new session (and a new broker epoch) when it expired, and a zombie
controller whose writes are fenced."""

import signal
import threading
import time

import pytest
from kazoo.client import KazooClient

from hpbroker.cluster import zk_data as zd
from hpbroker.cluster.zk_data import BrokerInfo, EndPoint, LeaderAndIsr, LeaderIsrAndControllerEpoch, TopicPartition
from hpbroker.cluster.zk_session import SessionState, ZkUnavailableError
from tests.cluster.helpers import client, wait_until

B1 = BrokerInfo(1, (EndPoint("PLAINTEXT", "127.0.0.1", 9001, "PLAINTEXT"),))


class Events:
    def __init__(self, zk):
        self.seen = []
        self.threads = set()
        zk.add_session_listener(self.record)

    def record(self, event):
        self.threads.add(threading.current_thread().name)
        self.seen.append(event)

    def states(self):
        return [(e.state, e.new_session) for e in self.seen]


def test_zookeeper_restart_suspends_then_reconnects_the_same_session(private_zookeeper):
    zk = client(private_zookeeper.connect)
    try:
        events = Events(zk)
        epoch, session = zk.register_broker(B1), zk.session_id
        private_zookeeper.restart()
        wait_until(lambda: events.states()[-1:] == [(SessionState.CONNECTED, False)], what="reconnection")
        assert events.states() == [(SessionState.SUSPENDED, False), (SessionState.CONNECTED, False)]
        assert zk.session_id == session
        assert zk.get_data_and_stat("/brokers/ids/1")[1].czxid == epoch  # the registration survived
        assert threading.main_thread().name not in events.threads  # listeners run on kazoo's thread
    finally:
        zk.close()


def test_a_silent_zookeeper_suspends_then_the_session_resumes(private_zookeeper):
    zk = client(private_zookeeper.connect)
    try:
        events = Events(zk)
        session = zk.session_id
        private_zookeeper.pause()
        try:
            wait_until(lambda: events.states() == [(SessionState.SUSPENDED, False)], what="SUSPENDED")
        finally:
            private_zookeeper.resume()
        wait_until(lambda: events.states()[-1:] == [(SessionState.CONNECTED, False)], what="reconnection")
        assert zk.session_id == session and zk.state is SessionState.CONNECTED
    finally:
        zk.close()


def test_a_cas_in_flight_when_zookeeper_fell_silent_is_applied_once(private_zookeeper):
    """The set reaches the server before it stops; the client gives up on the connection and
    sends it again after reconnecting, and meets its own success as a BADVERSION: the data check
    tells it the write is its own."""
    zk = client(private_zookeeper.connect)
    try:
        events = Events(zk)
        tp = TopicPartition("t", 0)
        zk.create_recursive(
            zd.partition_state_path(tp),
            zd.encode_partition_state(LeaderIsrAndControllerEpoch(LeaderAndIsr(1, 0, (1, 2)), 1)),
        )
        result = []
        private_zookeeper.pause()
        try:
            writer = threading.Thread(
                target=lambda: result.append(zk.update_leader_and_isr_as_leader(tp, LeaderAndIsr(1, 0, (1,), 0), 1))
            )
            writer.start()
            wait_until(lambda: events.states() == [(SessionState.SUSPENDED, False)], what="SUSPENDED")
        finally:
            private_zookeeper.resume()
        writer.join(30)
        assert result == [(True, 1)]
        assert zk.get_partition_state(tp).leader_and_isr == LeaderAndIsr(1, 0, (1,), 1)
    finally:
        zk.close()


def test_session_expiry_is_lost_then_a_new_session_that_registers_again(zookeeper_connect):
    zk = client(zookeeper_connect)
    try:
        events = Events(zk)
        old_epoch, old_session = zk.register_broker(B1), zk.session_id
        # expire the session as ZooKeeper does when a client stays away too long: a second
        # connection with the same session id and password, then closed
        twin = KazooClient(zookeeper_connect, client_id=zk.kazoo.client_id)
        twin.start(timeout=15)
        twin.stop()
        twin.close()
        wait_until(lambda: events.states()[-1:] == [(SessionState.CONNECTED, True)], what="a new session")
        assert (SessionState.LOST, False) in events.states()
        assert zk.session_id not in (None, old_session) and events.seen[-1].session_id == zk.session_id
        assert zk.get_broker(1) is None  # the expired session's registration is gone
        assert zk.register_broker(B1) > old_epoch  # registered again: a new broker epoch
    finally:
        zk.close()


def test_a_zombie_controller_is_fenced(zookeeper_connect, actors):
    """SIGSTOP the controller past its session timeout: the other broker takes over; on SIGCONT
    the zombie learns its session is LOST, resigns, registers with a new broker epoch, and its
    write with the old controller epoch fails."""
    first = actors(zookeeper_connect, "controller", 1)
    assert first.wait_for("elected")["epoch"] == 1
    second = actors(zookeeper_connect, "controller", 2)
    second.wait_for("registered")
    old_epoch = first.has("registered")["broker_epoch"]
    first.signal(signal.SIGSTOP)
    try:
        assert second.wait_for("elected", timeout=30)["epoch"] == 2
    finally:
        first.signal(signal.SIGCONT)
    first.wait_for("resigned", timeout=30, epoch=1)
    stale = first.wait_for("stale_write", timeout=30)
    assert stale["fenced"] is True, stale
    assert first.has("registered")["broker_epoch"] > old_epoch
    assert first.has("session", state="LOST") and not second.has("resigned")


def test_no_zookeeper_is_an_error_after_the_connection_timeout(private_zookeeper):
    zk = client(private_zookeeper.connect, connection_timeout_ms=1500)
    try:
        private_zookeeper.stop()
        started = time.monotonic()
        with pytest.raises(ZkUnavailableError, match="did not answer in 1500 ms"):
            zk.get_children("/brokers/ids")
        assert time.monotonic() - started < 10
    finally:
        zk.close()
    with pytest.raises(ZkUnavailableError, match="cannot connect to ZooKeeper"):
        client(private_zookeeper.connect, connection_timeout_ms=1000)
