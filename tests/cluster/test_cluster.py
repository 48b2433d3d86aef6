"""A cluster of three brokers on a real ZooKeeper, with real clients (confluent-kafka,
kafka-python, kcat) and exact requests: registration and the controller, placement of topics over
the brokers, leaders every broker agrees on, clients following leaders, NOT_LEADER_OR_FOLLOWER from
the others, topic changes at the controller reaching every broker, producer ids, coordinators.

One cluster serves the whole module; each test uses topics of its own."""

import shutil
import subprocess
from collections import Counter

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic, ResourceType

from hpbroker.cluster import zk_data as zd
from hpbroker.protocol.errors import ErrorCode
from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from tests.cluster.brokers import (
    API_VERSIONS,
    CLUSTER_OF_BROKERS,
    INIT_PRODUCER_ID,
    create_topics,
    fetch_error,
    find_coordinator,
    leaders,
    metadata,
    new_name,
    offsets_partition,
    produce,
    request,
    wait_for_leaders,
)

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]


@pytest.fixture(scope="module")
def cluster(zookeeper_server):
    zookeeper_server.start()
    racks = {1: {"broker.rack": "r1"}, 2: {"broker.rack": "r2"}, 3: {"broker.rack": "r1"}}
    with running_cluster(3, zookeeper=zookeeper_server, broker_config=racks) as c:
        for b in c.brokers.values():
            wait_until(
                lambda b=b: sorted(n["node_id"] for n in metadata(b.bootstrap)["brokers"]) == [1, 2, 3],
                20,
                f"broker {b.broker_id} to know the three brokers",
            )
        yield c


def _create(cluster, name, partitions, config=None):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for f in admin.create_topics([NewTopic(name, partitions, 1, config=config or {})]).values():
        f.result(20)
    return wait_for_leaders(cluster, name, partitions)


def test_every_broker_knows_the_cluster_and_its_controller(cluster):
    with cluster.zk_client() as zk:
        controller = zk.get_controller_id()
        registered = zk.get_all_brokers_and_epochs()
        assert zk.get_controller_epoch()[0] >= 1
        cluster_id = zk.get_cluster_id()
    assert sorted(registered) == [1, 2, 3]
    for broker_id, b in cluster.brokers.items():
        info, epoch = registered[broker_id]
        assert info.endpoints[0].port == b.port and epoch > 0  # the endpoint it serves, its czxid
        md = metadata(b.bootstrap)
        assert md["controller_id"] == controller and md["cluster_id"] == cluster_id
        assert {n["node_id"]: n["port"] for n in md["brokers"]} == {i: c.port for i, c in cluster.brokers.items()}
        assert {n["node_id"]: n["rack"] for n in md["brokers"]} == {1: "r1", 2: "r2", 3: "r1"}
        assert info.rack == ("r2" if broker_id == 2 else "r1")
        # a ZooKeeper-mode broker lists the inter-broker APIs too
        keys = {k["api_key"] for k in request(b.bootstrap, API_VERSIONS, 3, {})["api_keys"]}
        assert {4, 5, 6, 7} <= keys
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    described = admin.describe_cluster().result(15)
    assert described.controller.id == controller and described.cluster_id == cluster_id
    assert sorted((n.id, n.rack) for n in described.nodes) == [(1, "r1"), (2, "r2"), (3, "r1")]


def test_a_topic_spreads_its_leaders_and_every_broker_agrees(cluster):
    name = new_name("spread")
    by_partition = _create(cluster, name, 6)
    assert Counter(by_partition.values()) == {1: 2, 2: 2, 3: 2}  # round-robin over the brokers
    with cluster.zk_client() as zk:
        assignment, _ = zk.get_topic_assignment(name)
        assert assignment.topic_id is not None  # Kafka 2.8's v3 znode
        assert {p: a.replicas for p, a in assignment.partitions.items()} == {p: (l,) for p, l in by_partition.items()}
        states = zk.get_partition_states([zd.TopicPartition(name, p) for p in range(6)])
    for tp, lice in states.items():
        assert lice.leader_and_isr.leader == by_partition[tp.partition]
        assert lice.leader_and_isr.isr == (by_partition[tp.partition],)


def test_clients_produce_and_consume_across_leaders(cluster):
    name = new_name("clients")
    _create(cluster, name, 6)
    p = Producer({"bootstrap.servers": cluster.bootstrap, "enable.idempotence": True})
    for i in range(60):
        p.produce(name, value=f"c{i}".encode(), partition=i % 6)
    assert p.flush(20) == 0

    from kafka import KafkaProducer

    kp = KafkaProducer(bootstrap_servers=cluster.bootstrap)
    for i in range(30):
        kp.send(name, value=f"k{i}".encode(), partition=i % 6)
    kp.flush(20)
    kp.close()
    expected = {f"c{i}" for i in range(60)} | {f"k{i}" for i in range(30)}

    from kafka import KafkaConsumer
    from kafka import TopicPartition as KafkaTopicPartition

    kc = KafkaConsumer(bootstrap_servers=cluster.bootstrap, consumer_timeout_ms=15000)
    kc.assign([KafkaTopicPartition(name, p) for p in range(6)])
    kc.seek_to_beginning()
    read = set()
    for m in kc:
        read.add(m.value.decode())
        if len(read) == len(expected):
            break
    kc.close()
    assert read == expected
    if shutil.which("kcat"):
        lines = "".join(f"kc{i}\n" for i in range(12))
        out = subprocess.run(
            ["kcat", "-b", cluster.bootstrap, "-P", "-t", name], input=lines, capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 0, out.stderr
        expected |= {f"kc{i}" for i in range(12)}
        cons = subprocess.run(
            ["kcat", "-b", cluster.bootstrap, "-C", "-t", name, "-o", "beginning", "-e"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cons.returncode == 0, cons.stderr
        assert set(cons.stdout.split()) == expected

    c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": new_name("g"), "auto.offset.reset": "earliest"})
    got = []
    try:
        c.subscribe([name])
        wait_until(lambda: _poll_into(c, got) >= len(expected), 60, "the group to read every record")
    finally:
        c.close()
    assert set(got) == expected and len(got) == len(expected)


def _poll_into(consumer, out):
    m = consumer.poll(0.5)
    if m is not None and not m.error():
        out.append(m.value().decode())
    return len(out)


def test_a_broker_that_does_not_lead_a_partition_answers_not_leader(cluster):
    name = new_name("notleader")
    by_partition = _create(cluster, name, 3)
    for partition, leader in by_partition.items():
        other = next(b for i, b in cluster.brokers.items() if i != leader)
        assert produce(other.bootstrap, name, partition, [b"x"]) == (ErrorCode.NOT_LEADER_OR_FOLLOWER, -1)
        assert fetch_error(other.bootstrap, name, partition) == ErrorCode.NOT_LEADER_OR_FOLLOWER
        code, offset = produce(cluster.brokers[leader].bootstrap, name, partition, [b"x"])
        assert code == 0 and offset == 0
        assert fetch_error(cluster.brokers[leader].bootstrap, name, partition) == 0
    missing = cluster.brokers[1].bootstrap
    assert produce(missing, new_name("nope"), 0, [b"x"])[0] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_topic_changes_are_the_controllers_and_reach_every_broker(cluster):
    with cluster.zk_client() as zk:
        controller = zk.get_controller_id()
    other = next(b for i, b in cluster.brokers.items() if i != controller)
    name = new_name("admin")
    refused = create_topics(other.bootstrap, name, 2)
    assert refused["error_code"] == ErrorCode.NOT_CONTROLLER
    _create(cluster, name, 3, {"retention.ms": "3600000"})

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    res = ConfigResource(ResourceType.TOPIC, name, set_config={"retention.ms": "7200000"})
    for f in admin.alter_configs([res]).values():
        f.result(15)
    with cluster.zk_client() as zk:  # where Kafka's AdminZkClient writes it, with a change notification
        assert zk.get_entity_configs("topics", name) == {"retention.ms": "7200000"}
        assert f"topics/{name}" in [entity for _, entity in zk.get_config_changes()]
    for b in cluster.brokers.values():
        one = AdminClient({"bootstrap.servers": b.bootstrap})

        def retention(one=one):
            (f,) = one.describe_configs([ConfigResource(ResourceType.TOPIC, name)]).values()
            return f.result(15)["retention.ms"].value

        wait_until(lambda r=retention: r() == "7200000", 30, f"broker {b.broker_id} to see the new retention")

    for f in admin.create_partitions([NewPartitions(name, 5)]).values():
        f.result(20)
    assert sorted(wait_for_leaders(cluster, name, 5)) == [0, 1, 2, 3, 4]

    for f in admin.delete_topics([name]).values():
        f.result(20)
    for b in cluster.brokers.values():
        wait_until(lambda b=b: leaders(b.bootstrap, name) is None, 30, f"broker {b.broker_id} to forget {name}")
    with cluster.zk_client() as zk:
        wait_until(lambda: name not in zk.get_all_topics(), 30, "the topic's znodes to go")
        # the controller removes the deletion marker last (Kafka's TopicDeletionManager)
        wait_until(lambda: not zk.is_topic_marked_for_deletion(name), 30, "the deletion marker to go")
        assert zk.get_entity_configs("topics", name) == {}


def test_replication_factors_up_to_the_live_brokers_are_accepted(cluster):
    with cluster.zk_client() as zk:
        controller = cluster.brokers[zk.get_controller_id()]
    name = new_name("rf2")
    two = create_topics(controller.bootstrap, name, 3, rf=2)
    assert two["error_code"] == ErrorCode.NONE
    with cluster.zk_client() as zk:
        assignment, _ = zk.get_topic_assignment(name)
    assert all(len(set(a.replicas)) == 2 for a in assignment.partitions.values())
    four = create_topics(controller.bootstrap, new_name("rf4"), 3, rf=4)
    assert four["error_code"] == ErrorCode.INVALID_REPLICATION_FACTOR
    assert four["error_message"] == "Replication factor: 4 larger than available brokers: 3."
    assigned = create_topics(
        controller.bootstrap,
        new_name("assigned"),
        -1,
        rf=-1,
        assignments=[{"partition_index": 0, "broker_ids": [1, 2]}],
    )
    assert assigned["error_code"] == ErrorCode.NONE


def test_an_assignment_places_partitions_where_asked(cluster):
    with cluster.zk_client() as zk:
        controller = cluster.brokers[zk.get_controller_id()]
    name = new_name("placed")
    answer = create_topics(
        controller.bootstrap,
        name,
        -1,
        rf=-1,
        assignments=[{"partition_index": 0, "broker_ids": [3]}, {"partition_index": 1, "broker_ids": [3]}],
    )
    assert answer["error_code"] == 0
    assert wait_for_leaders(cluster, name, 2) == {0: 3, 1: 3}


def test_producer_ids_are_unique_across_brokers(cluster):
    ids = []
    for b in cluster.brokers.values():
        for _ in range(3):
            answer = request(b.bootstrap, INIT_PRODUCER_ID, 1, {"transactional_id": None, "transaction_timeout_ms": -1})
            assert answer["error_code"] == 0
            ids.append(answer["producer_id"])
    assert len(set(ids)) == len(ids)
    with cluster.zk_client() as zk:
        assert zk.get_data_and_stat(zd.PRODUCER_ID_BLOCK_PATH)[0]  # blocks were claimed


def test_the_coordinator_is_the_leader_of_the_groups_offsets_partition(cluster):
    name = new_name("groups")
    _create(cluster, name, 3)
    find_coordinator(cluster.brokers[1].bootstrap, "first")  # creates __consumer_offsets
    offsets = wait_for_leaders(cluster, "__consumer_offsets", 50)
    for group in (new_name("g") for _ in range(6)):
        for b in cluster.brokers.values():
            answer = wait_until(
                lambda b=b, group=group: (a := find_coordinator(b.bootstrap, group))["error_code"] == 0 and a,
                15,
                "a coordinator",
            )
            assert answer["node_id"] == offsets[offsets_partition(group)]
        c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(name, 0, 7)], asynchronous=False)
            (got,) = c.committed([TopicPartition(name, 0)], timeout=15)
            assert got.offset == 7
        finally:
            c.close()


def test_requests_of_an_old_controller_or_for_an_old_registration_are_refused(cluster):
    with cluster.zk_client() as zk:
        controller_epoch = zk.get_controller_epoch()[0]
        epochs = {i: e for i, (_, e) in zk.get_all_brokers_and_epochs().items()}
        controller = zk.get_controller_id()
    name = new_name("fenced")
    by_partition = _create(cluster, name, 1)
    leader = by_partition[0]
    b = cluster.brokers[leader]

    def leader_and_isr(controller_epoch, broker_epoch, leader_epoch):
        state = {
            "partition_index": 0,
            "controller_epoch": controller_epoch,
            "leader": leader,
            "leader_epoch": leader_epoch,
            "isr": [leader],
            "partition_epoch": 0,
            "replicas": [leader],
            "adding_replicas": [],
            "removing_replicas": [],
            "is_new": False,
        }
        body = {
            "controller_id": controller,
            "controller_epoch": controller_epoch,
            "broker_epoch": broker_epoch,
            "type": 0,
            "topic_states": [{"topic_name": name, "topic_id": bytes(16), "partition_states": [state]}],
            "live_leaders": [],
        }
        return request(b.bootstrap, 4, 5, body)

    assert leader_and_isr(controller_epoch - 1, epochs[leader], 9)["error_code"] == ErrorCode.STALE_CONTROLLER_EPOCH
    assert leader_and_isr(controller_epoch, epochs[leader] - 1, 9)["error_code"] == ErrorCode.STALE_BROKER_EPOCH
    answer = leader_and_isr(controller_epoch, epochs[leader], 0)  # not newer than the leader epoch held
    assert answer["error_code"] == 0
    assert answer["topics"][0]["partition_errors"][0]["error_code"] == ErrorCode.STALE_CONTROLLER_EPOCH
    stale_update = {
        "controller_id": controller,
        "controller_epoch": controller_epoch - 1,
        "broker_epoch": epochs[leader],
        "topic_states": [],
        "live_brokers": [],
    }
    assert request(b.bootstrap, 6, 7, stale_update)["error_code"] == ErrorCode.STALE_CONTROLLER_EPOCH
    stop = {
        "controller_id": controller,
        "controller_epoch": controller_epoch - 1,
        "broker_epoch": epochs[leader],
        "topic_states": [
            {
                "topic_name": name,
                "partition_states": [{"partition_index": 0, "leader_epoch": -2, "delete_partition": True}],
            }
        ],
    }
    assert request(b.bootstrap, 5, 3, stop)["error_code"] == ErrorCode.STALE_CONTROLLER_EPOCH
    assert sorted(n["node_id"] for n in metadata(b.bootstrap)["brokers"]) == [1, 2, 3]  # nothing was applied
    assert produce(b.bootstrap, name, 0, [b"still-led"])[0] == 0

    other = next(i for i in cluster.brokers if i != controller)
    shutdown = {"broker_id": other, "broker_epoch": epochs[other]}
    assert request(cluster.brokers[other].bootstrap, 7, 3, shutdown)["error_code"] == ErrorCode.NOT_CONTROLLER
    stale = {"broker_id": other, "broker_epoch": epochs[other] - 1}
    assert request(cluster.brokers[controller].bootstrap, 7, 3, stale)["error_code"] == ErrorCode.STALE_BROKER_EPOCH
