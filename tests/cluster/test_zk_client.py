"""KafkaZkClient against a real ZooKeeper (a chroot per test): registration and broker epochs,
the controller election and its fencing, partition-state CAS, producer id blocks, topics,
configs, notifications, malformed znodes and watches."""

import asyncio
import logging
import signal
import threading

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError

from hpbroker.cluster import zk_data as zd
from hpbroker.cluster.producer_ids import ProducerIdManager
from hpbroker.cluster.zk_client import BrokerIdInUseError, TopicExistsError
from hpbroker.cluster.zk_data import (
    BrokerInfo,
    EndPoint,
    LeaderAndIsr,
    LeaderIsrAndControllerEpoch,
    ReplicaAssignment,
    TopicPartition,
    ZkDataError,
)
from hpbroker.cluster.zk_session import ControllerMovedError, on_loop, split_connect
from tests.cluster.helpers import client, wait_until

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


def broker(broker_id, port=None):
    return BrokerInfo(broker_id, (EndPoint("PLAINTEXT", "127.0.0.1", port or 9000 + broker_id, "PLAINTEXT"),))


@pytest.fixture
def zk(zookeeper_connect):
    c = client(zookeeper_connect)
    yield c
    c.close()


@pytest.fixture
def clients(zookeeper_connect):
    made = []

    def make(**kw):
        c = client(zookeeper_connect, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_chroot_is_created_with_the_top_level_paths(zookeeper_connect, zk):
    hosts, chroot = split_connect(zookeeper_connect)
    bare = KazooClient(hosts)
    bare.start(timeout=15)
    try:
        assert bare.exists(chroot)
        for path in zd.PERSISTENT_PATHS:
            assert bare.exists(chroot + path), path
        assert not bare.exists("/brokers/ids")  # nothing outside the chroot
    finally:
        bare.stop()
        bare.close()


# -- registration ---------------------------------------------------------------------------
def test_registration_epoch_is_the_czxid_and_brokers_are_listed(zk, clients):
    epoch1 = zk.register_broker(broker(1))
    other = clients()
    epoch2 = other.register_broker(broker(2))
    assert epoch2 > epoch1 > 0
    _, stat = zk.get_data_and_stat("/brokers/ids/1")
    assert stat.czxid == epoch1 and stat.ephemeralOwner == zk.session_id
    assert zk.register_broker(broker(1)) == epoch1  # the same session again: the same registration
    found = zk.get_all_brokers_and_epochs()
    assert {i: e for i, (_, e) in found.items()} == {1: epoch1, 2: epoch2}
    assert found[2][0].endpoints == broker(2).endpoints and zk.get_sorted_broker_list() == [1, 2]
    assert zk.get_broker(2).plaintext_endpoint.port == 9002 and zk.get_broker(3) is None


def test_a_live_broker_id_is_refused(zk, clients):
    zk.register_broker(broker(1))
    with pytest.raises(BrokerIdInUseError, match=r"^broker.id 1 is already registered"):
        clients().register_broker(broker(1, port=9999))
    assert zk.get_broker(1).plaintext_endpoint.port == 9001  # the first one stands


def test_a_bounced_broker_registers_with_a_larger_epoch(zookeeper_connect, zk):
    first = client(zookeeper_connect)
    old = first.register_broker(broker(5))
    first.close()  # a clean close ends the session: the ephemeral goes at once
    wait_until(lambda: zk.get_broker(5) is None, what="the registration to vanish")
    again = client(zookeeper_connect)
    try:
        assert again.register_broker(broker(5)) > old
    finally:
        again.close()


# -- controller election and fencing ---------------------------------------------------------
def test_exactly_one_of_many_threads_wins_the_election(clients):
    contenders = [clients() for _ in range(6)]
    start = threading.Barrier(len(contenders))
    outcomes = {}

    def contend(i, c):
        start.wait()
        try:
            outcomes[i] = c.register_controller_and_increment_controller_epoch(i)
        except ControllerMovedError:
            outcomes[i] = None

    threads = [threading.Thread(target=contend, args=(i, c)) for i, c in enumerate(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = {i: r for i, r in outcomes.items() if r is not None}
    assert len(outcomes) == 6 and len(winners) == 1
    ((winner, (epoch, version)),) = winners.items()
    assert epoch == 1 and contenders[0].get_controller_id() == winner
    assert contenders[0].get_controller_epoch() == (1, version)


def test_reelection_after_the_controller_closes(clients):
    a, b = clients(), clients()
    assert a.register_controller_and_increment_controller_epoch(1)[0] == 1
    with pytest.raises(ControllerMovedError):
        b.register_controller_and_increment_controller_epoch(2)
    a.close()
    wait_until(lambda: b.get_controller_id() is None, what="/controller to vanish")
    assert b.register_controller_and_increment_controller_epoch(2)[0] == 2
    assert b.get_controller_id() == 2


def test_reelection_across_processes_after_kill_and_close(zookeeper_connect, zk, actors):
    procs = [actors(zookeeper_connect, "controller", i) for i in (1, 2, 3)]
    winner = wait_until(lambda: [p for p in procs if p.has("elected")], what="an election")
    assert len(winner) == 1
    first = winner[0]
    assert first.has("elected")["epoch"] == 1 and zk.get_controller_id() == first.broker_id
    first.signal(signal.SIGKILL)  # its session lives on until it times out
    rest = [p for p in procs if p is not first]
    second = wait_until(lambda: [p for p in rest if p.has("elected")], timeout=30, what="a re-election")
    assert len(second) == 1 and second[0].has("elected")["epoch"] == 2
    second[0].signal(signal.SIGTERM)  # a clean close: the last one takes over at once
    last = [p for p in rest if p is not second[0]][0]
    assert last.wait_for("elected", timeout=15)["epoch"] == 3
    assert zk.get_controller_id() == last.broker_id and zk.get_controller_epoch()[0] == 3


def test_controller_writes_fail_once_another_controller_is_elected(zk, clients):
    epoch, version = zk.register_controller_and_increment_controller_epoch(1)
    zk.create_topic_assignment("t", None, {0: [1, 2], 1: [2, 1]})
    states = {
        TP0: LeaderIsrAndControllerEpoch(LeaderAndIsr(1, 0, (1, 2)), epoch),
        TP1: LeaderIsrAndControllerEpoch(LeaderAndIsr(2, 0, (2, 1)), epoch),
    }
    created = zk.create_partition_states(states, version)
    assert created == {TP0: LeaderAndIsr(1, 0, (1, 2), 0), TP1: LeaderAndIsr(2, 0, (2, 1), 0)}
    zk.propagate_isr_changes([TP0])
    zk.create_delete_topic_path("t")

    # the /controller znode goes (an operator, or this controller's session as seen by the others)
    # and broker 2 wins epoch 2, while broker 1 still believes it is the controller
    zk.delete_path(zd.CONTROLLER_PATH)
    rival = clients()
    assert rival.register_controller_and_increment_controller_epoch(2)[0] == epoch + 1

    stale = [
        lambda: zk.update_leader_and_isr({TP0: created[TP0].new_leader_and_isr(2, [2])}, epoch, version),
        lambda: zk.create_partition_states({TopicPartition("t", 2): states[TP0]}, version),
        lambda: zk.delete_isr_change_notifications(zk.get_all_isr_change_notifications(), version),
        lambda: zk.delete_topic_deletions(["t"], version),
        lambda: zk.delete_topic("t", version),
        lambda: zk.delete_controller(version),
        lambda: zk.set_topic_assignment("t", None, {0: [2]}, expected_controller_epoch_zk_version=version),
    ]
    for write in stale:
        with pytest.raises(ControllerMovedError, match="controller epoch zkVersion check failed"):
            write()
    assert zk.get_partition_state(TP0).leader_and_isr == created[TP0]  # nothing landed
    assert rival.get_controller_id() == 2 and zk.get_topic_deletions() == ["t"]
    assert len(zk.get_all_isr_change_notifications()) == 1
    assert not zk.path_exists("/brokers/topics/t/partitions/2")


# -- partition state CAS ---------------------------------------------------------------------
def test_partition_state_cas_for_controller_and_leader(zk):
    epoch, version = zk.register_controller_and_increment_controller_epoch(1)
    state = LeaderIsrAndControllerEpoch(LeaderAndIsr(1, 0, (1, 2, 3)), epoch)
    assert isinstance(zk.create_partition_states({TP0: state}, version)[TP0], NoNodeError)  # no topic yet
    zk.create_topic_assignment("t", None, {0: [1, 2, 3]})
    zk.create_partition_states({TP0: state}, version)
    again = zk.create_partition_states({TP0: state}, version)
    assert isinstance(again[TP0], Exception)  # NODEEXISTS: the state is created once

    # the leader shrinks the ISR at version 0
    ok, v = zk.update_leader_and_isr_as_leader(TP0, LeaderAndIsr(1, 0, (1, 2), 0), epoch)
    assert (ok, v) == (True, 1)
    # the controller, still holding version 0, must re-read
    result = zk.update_leader_and_isr({TP0: LeaderAndIsr(2, 1, (2, 3), 0)}, epoch, version)
    assert result.to_retry == [TP0] and not result.finished
    current = zk.get_partition_state(TP0).leader_and_isr
    assert current == LeaderAndIsr(1, 0, (1, 2), 1)
    result = zk.update_leader_and_isr({TP0: current.new_leader_and_isr(2, [2])}, epoch, version)
    assert result.finished == {TP0: LeaderAndIsr(2, 1, (2,), 2)} and not result.to_retry
    # and now the old leader's CAS fails: it must not act on an ISR it did not commit
    assert zk.update_leader_and_isr_as_leader(TP0, LeaderAndIsr(1, 0, (1,), 1), epoch) == (False, -1)
    assert zk.get_partition_state(TP0) == LeaderIsrAndControllerEpoch(LeaderAndIsr(2, 1, (2,), 2), epoch)


def test_concurrent_cas_writers_lose_no_update(zk, clients):
    epoch, version = zk.register_controller_and_increment_controller_epoch(1)
    zk.create_topic_assignment("t", None, {0: [1]})
    zk.create_partition_states({TP0: LeaderIsrAndControllerEpoch(LeaderAndIsr(1, 0, (1,)), epoch)}, version)
    writers, rounds, retries = [clients() for _ in range(4)], 15, []

    def bump(c):
        for _ in range(rounds):
            while True:  # read, decide, CAS; BADVERSION -> read again
                cur = c.get_partition_state(TP0).leader_and_isr
                ok, _ = c.update_leader_and_isr_as_leader(
                    TP0, LeaderAndIsr(cur.leader, cur.leader_epoch + 1, cur.isr, cur.zk_version), epoch
                )
                if ok:
                    break
                retries.append(1)

    threads = [threading.Thread(target=bump, args=(c,)) for c in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    final = zk.get_partition_state(TP0).leader_and_isr
    assert final.leader_epoch == final.zk_version == 4 * rounds


# -- producer id blocks ----------------------------------------------------------------------
def test_producer_id_blocks_are_unique_across_threads_and_processes(zookeeper_connect, clients, actors):
    procs = [actors(zookeeper_connect, "blocks", 100 + i, 10) for i in range(2)]
    claimed, lock = [], threading.Lock()

    def claim(broker_id):
        c = clients()
        for _ in range(10):
            b = c.claim_producer_id_block(broker_id)
            with lock:
                claimed.append((b.block_start, b.block_end))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for p in procs:
        claimed += [tuple(b) for b in p.wait_for("blocks", timeout=60)["blocks"]]
    assert len(claimed) == 50
    assert sorted(claimed) == [(i * 1000, i * 1000 + 999) for i in range(50)]  # no gap, no overlap


def test_producer_id_manager_hands_out_each_id_once(clients):
    managers = [ProducerIdManager(i, clients()) for i in range(3)]
    ids = [m.generate_producer_id() for _ in range(1200) for m in managers]
    assert len(set(ids)) == len(ids) == 3600
    assert managers[0].generate_producer_id() != ids[0]


# -- topics, configs, deletion, notifications, cluster id ------------------------------------
def test_topic_assignment(zk):
    tid = bytes(range(16))
    zk.create_topic_assignment("t", tid, {0: [1, 2], 1: ReplicaAssignment((2, 1), adding_replicas=(3,))})
    with pytest.raises(TopicExistsError):
        zk.create_topic_assignment("t", None, {0: [1]})
    got, version = zk.get_topic_assignment("t")
    assert got.topic_id == tid and got.partitions[1].adding_replicas == (3,) and zk.get_all_topics() == ["t"]
    assert zk.set_topic_assignment("t", tid, {0: [1, 2], 1: [2, 1], 2: [1]}, expected_version=version) == version + 1
    with pytest.raises(BadVersionError):
        zk.set_topic_assignment("t", tid, {0: [1]}, expected_version=version)
    assert sorted(zk.get_topic_assignments(["t", "absent"])["t"].partitions) == [0, 1, 2]
    assert zk.get_topic_assignment("absent") is None


def test_topic_configs_and_change_notifications(zk):
    assert zk.get_entity_configs("topics", "t") == {}
    zk.set_or_create_entity_configs("topics", "t", {"retention.ms": "1000"})
    zk.set_or_create_entity_configs("topics", "t", {"retention.ms": "2000", "cleanup.policy": "compact"})
    assert zk.get_entity_configs("topics", "t") == {"retention.ms": "2000", "cleanup.policy": "compact"}
    assert zk.get_all_entities_with_config("topics") == ["t"]
    first = zk.create_config_change_notification("topics/t")
    assert first.endswith("/config/changes/config_change_0000000000")
    zk.create_config_change_notification("topics/u")
    changes = zk.get_config_changes()
    assert changes == [("config_change_0000000000", "topics/t"), ("config_change_0000000001", "topics/u")]
    assert zk.get_config_changes(after="config_change_0000000000") == changes[1:]
    zk.delete_config_changes([n for n, _ in changes])
    assert zk.get_config_changes() == []


def test_topic_deletion_markers_and_delete(zk):
    epoch, version = zk.register_controller_and_increment_controller_epoch(1)
    zk.create_topic_assignment("t", None, {0: [1]})
    zk.create_partition_states({TP0: LeaderIsrAndControllerEpoch(LeaderAndIsr(1, 0, (1,)), epoch)}, version)
    zk.set_or_create_entity_configs("topics", "t", {"retention.ms": "1"})
    assert zk.create_delete_topic_path("t") is True and zk.create_delete_topic_path("t") is False
    assert zk.is_topic_marked_for_deletion("t") and zk.get_topic_deletions() == ["t"]
    zk.delete_topic("t", version)
    zk.delete_topic_configs(["t"], version)
    zk.delete_topic_deletions(["t"], version)
    assert zk.get_all_topics() == [] and zk.get_topic_deletions() == []
    assert zk.get_entity_configs("topics", "t") == {}


def test_isr_change_notifications(zk):
    epoch, version = zk.register_controller_and_increment_controller_epoch(1)
    zk.propagate_isr_changes([TopicPartition("topic-a", 0), TopicPartition("topic-b", 0)])
    path = zk.propagate_isr_changes([TopicPartition("topic-b", 0)])
    assert path.endswith("/isr_change_notification/isr_change_0000000001")
    assert zk.get_data_and_stat(path)[0] == b'{"version":1,"partitions":[{"topic":"topic-b","partition":0}]}'
    seqs = zk.get_all_isr_change_notifications()
    assert seqs == ["0000000000", "0000000001"]
    assert zk.get_partitions_from_isr_change_notifications(seqs) == [
        TopicPartition("topic-a", 0),
        TopicPartition("topic-b", 0),
    ]
    zk.delete_isr_change_notifications(seqs, version)
    assert zk.get_all_isr_change_notifications() == []


def test_cluster_id_is_created_once(zk, clients):
    assert zk.get_cluster_id() is None
    ids = set()
    threads = [threading.Thread(target=lambda c=clients(): ids.add(c.create_or_get_cluster_id())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(ids) == 1 and zk.get_cluster_id() in ids and len(zk.get_cluster_id()) == 22
    assert zk.create_or_get_cluster_id("another") == zk.get_cluster_id()


# -- malformed znodes and watches ------------------------------------------------------------
def test_malformed_znodes_are_reported_and_the_rest_served(zk, caplog):
    zk.register_broker(broker(1))
    zk.create_recursive("/brokers/ids/9", b'{"version":5,"endpoints":["CLIENT://h:1"]}')  # by hand
    zk.create_recursive("/brokers/ids/x", b"")
    zk.create_recursive(zd.partition_state_path(TP1), b"garbage")
    zk.create_recursive(
        zd.partition_state_path(TP0),
        zd.encode_partition_state(LeaderIsrAndControllerEpoch(LeaderAndIsr(1, 0, (1,)), 1)),
    )
    zk.create_recursive("/isr_change_notification/isr_change_0000000000", b'{"version":1}')
    seen = []
    with caplog.at_level(logging.ERROR, logger="hpbroker.cluster"):
        assert set(zk.get_all_brokers_and_epochs()) == {1}
        assert set(zk.get_partition_states([TP0, TP1], on_malformed=seen.append)) == {TP0}
        assert zk.get_partitions_from_isr_change_notifications(zk.get_all_isr_change_notifications()) == []
    assert [e.path for e in seen] == ["/brokers/topics/t/partitions/1/state"]
    logged = caplog.text
    assert "/brokers/ids/9: no security protocol defined for listener CLIENT" in logged
    assert "/brokers/ids/x: not a broker id" in logged and "isr_change_0000000000: 'partitions'" in logged
    with pytest.raises(ZkDataError, match="^/brokers/topics/t/partitions/1/state: not JSON"):
        zk.get_partition_state(TP1)


def test_a_failing_watch_callback_keeps_watching(zk, caplog):
    zk.create_recursive(zd.CONTROLLER_PATH, b"not json")
    ids = []

    def on_controller(data, stat):
        ids.append(None if stat is None else zd.decode_controller(data))  # raises on the bad one

    with caplog.at_level(logging.ERROR):
        zk.watch_data(zd.CONTROLLER_PATH, on_controller)
        zk.kazoo.set(zd.CONTROLLER_PATH, zd.encode_controller(4))
        wait_until(lambda: ids == [4], what="the watch to deliver the repaired znode")
    assert "watch callback for /controller failed" in caplog.text and "not JSON" in caplog.text
    zk.delete_path(zd.CONTROLLER_PATH)
    wait_until(lambda: ids == [4, None], what="the deletion")


def test_watches_hop_onto_an_asyncio_loop(zk, clients):
    async def main():
        loop = asyncio.get_running_loop()
        seen: asyncio.Queue = asyncio.Queue()
        on_thread = []

        def record(children):  # runs on the loop's thread, hopped there from kazoo's
            on_thread.append(threading.current_thread() is threading.main_thread())
            seen.put_nowait(sorted(children))

        zk.watch_children(zd.BROKER_IDS_PATH, on_loop(loop, record))
        assert await asyncio.wait_for(seen.get(), 10) == []
        other = clients()
        await loop.run_in_executor(None, other.register_broker, broker(3))  # blocking calls off the loop
        assert await asyncio.wait_for(seen.get(), 10) == ["3"]
        await loop.run_in_executor(None, other.close)
        assert await asyncio.wait_for(seen.get(), 10) == []
        assert all(on_thread)

    asyncio.run(main())
