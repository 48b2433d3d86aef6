"""zk_data: Kafka's znode JSON, decoded from Kafka's own samples and encoded as Kafka writes it.

The samples are Kafka 2.8's: BrokerEndPointTest (registrations v1-v5), KafkaZkClientTest (ISR
change notifications), ZkData.scala and ProducerIdManager.scala (the encoders).
"""

import json

import pytest

from hpbroker.cluster import zk_data as zd
from hpbroker.cluster.zk_data import (
    BrokerInfo,
    EndPoint,
    LeaderAndIsr,
    LeaderIsrAndControllerEpoch,
    ProducerIdBlock,
    ReplicaAssignment,
    TopicPartition,
    ZkDataError,
)

TP = TopicPartition("orders", 3)


# -- broker registrations ------------------------------------------------------------------
def test_broker_v1():
    b = zd.decode_broker_info(
        1, b'{"jmx_port":-1,"timestamp":"1420485325400","host":"172.16.8.243","version":1,"port":9091}'
    )
    assert b.endpoints == (EndPoint("PLAINTEXT", "172.16.8.243", 9091, "PLAINTEXT"),)
    assert b.timestamp_ms == 1420485325400 and b.jmx_port == -1


def test_broker_v2_listener_names_are_protocols():
    b = zd.decode_broker_info(
        1,
        b"""{
      "version":2, "host":"localhost", "port":9092, "jmx_port":9999, "timestamp":"1416974968782",
      "endpoints":["SSL://localhost:9093"]}""",
    )
    assert b.endpoint("SSL") == EndPoint("SSL", "localhost", 9093, "SSL")


def test_broker_v3_rack():
    b = zd.decode_broker_info(
        1,
        b"""{
      "version":3, "host":"localhost", "port":9092, "jmx_port":9999, "timestamp":"2233345666",
      "endpoints":["PLAINTEXT://host1:9092", "SSL://host1:9093"], "rack":"dc1"}""",
    )
    assert b.endpoint("SSL").port == 9093 and b.rack == "dc1"


@pytest.mark.parametrize("rack", [', "rack":null', ""])
def test_broker_v4_listener_map_without_rack(rack):
    b = zd.decode_broker_info(
        1,
        (
            """{
      "version":4, "host":"localhost", "port":9092, "jmx_port":9999, "timestamp":"2233345666",
      "endpoints":["CLIENT://host1:9092", "REPLICATION://host1:9093"],
      "listener_security_protocol_map":{"CLIENT":"SSL", "REPLICATION":"PLAINTEXT"}"""
            + rack
            + "}"
        ).encode(),
    )
    assert b.endpoint("CLIENT") == EndPoint("CLIENT", "host1", 9092, "SSL")
    assert b.plaintext_endpoint == EndPoint("REPLICATION", "host1", 9093, "PLAINTEXT")
    assert b.rack is None and b.features == {}


def test_broker_v5_features():
    b = zd.decode_broker_info(
        1,
        b"""{
      "version":5, "host":"localhost", "port":9092, "jmx_port":9999, "timestamp":"2233345666",
      "endpoints":["CLIENT://host1:9092", "REPLICATION://host1:9093"],
      "listener_security_protocol_map":{"CLIENT":"SSL", "REPLICATION":"PLAINTEXT"}, "rack":"dc1",
      "features": {"feature1": {"min_version": 1, "max_version": 2}, "feature2": {"min_version": 2, "max_version": 4}}}""",
    )
    assert b.rack == "dc1" and b.version == 5
    assert b.features == {
        "feature1": {"min_version": 1, "max_version": 2},
        "feature2": {"min_version": 2, "max_version": 4},
    }


def test_broker_encode_v5_as_kafka():
    info = BrokerInfo(
        2, (EndPoint("PLAINTEXT", "h", 9092, "PLAINTEXT"), EndPoint("INTERNAL", "::1", 9093, "SSL")), rack="r1"
    )
    obj = json.loads(zd.encode_broker_info(info, timestamp_ms=1700000000000))
    assert obj == {
        "version": 5,
        "host": "h",
        "port": 9092,
        "jmx_port": -1,
        "timestamp": "1700000000000",
        "endpoints": ["PLAINTEXT://h:9092", "INTERNAL://[::1]:9093"],
        "rack": "r1",
        "listener_security_protocol_map": {"PLAINTEXT": "PLAINTEXT", "INTERNAL": "SSL"},
        "features": {},
    }
    back = zd.decode_broker_info(2, zd.encode_broker_info(info, timestamp_ms=5))
    assert back.endpoints == info.endpoints and back.rack == "r1" and back.timestamp_ms == 5


def test_broker_without_plaintext_writes_an_empty_top_level_endpoint():
    info = BrokerInfo(1, (EndPoint("SSL", "h", 9093, "SSL"),))
    obj = json.loads(zd.encode_broker_info(info))
    assert obj["host"] is None and obj["port"] == -1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("PLAINTEXT://localhost:9092", EndPoint("PLAINTEXT", "localhost", 9092, "PLAINTEXT")),
        ("PLAINTEXT://local_host:9092", EndPoint("PLAINTEXT", "local_host", 9092, "PLAINTEXT")),
        ("PLAINTEXT://:9092", EndPoint("PLAINTEXT", None, 9092, "PLAINTEXT")),
        ("PLAINTEXT://[::1]:9092", EndPoint("PLAINTEXT", "::1", 9092, "PLAINTEXT")),
        (
            "PLAINTEXT://[fe80::b1da:69ca:57f7:63d8%3]:9092",
            EndPoint("PLAINTEXT", "fe80::b1da:69ca:57f7:63d8%3", 9092, "PLAINTEXT"),
        ),
    ],
)
def test_endpoint_parse_as_kafka(text, expected):
    assert EndPoint.parse(text) == expected
    assert expected.connection_string == text


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"", "no data"),
        (b"{not json", "not JSON"),
        (b"[1,2]", "JSON list"),
        (b'{"host":"h","port":1}', "'version' is missing"),
        (b'{"version":"5"}', "'version' must be an integer"),
        (b'{"version":0}', "unsupported version 0"),
        (b'{"version":1,"host":"h"}', "'port' is missing"),
        (b'{"version":5,"endpoints":"PLAINTEXT://h:1"}', "'endpoints' must be a list"),
        (b'{"version":5,"endpoints":["nonsense"]}', "cannot parse 'nonsense'"),
        (b'{"version":5,"endpoints":["CLIENT://h:1"]}', "no security protocol defined for listener CLIENT"),
        (
            b'{"version":5,"endpoints":[],"listener_security_protocol_map":{"A":"TLS"}}',
            "unknown security protocol 'TLS'",
        ),
        (b'{"version":5,"endpoints":[],"timestamp":"soon"}', "'timestamp' must be a decimal number"),
        (b'{"version":5,"endpoints":[],"features":{"f":{"min_version":"1"}}}', "'features'"),
        (b'{"version":5,"endpoints":[],"rack":7}', "'rack' must be a string"),
    ],
)
def test_malformed_broker_names_path_and_problem(data, problem):
    with pytest.raises(ZkDataError) as e:
        zd.decode_broker_info(4, data)
    assert e.value.path == "/brokers/ids/4"
    assert problem in str(e.value) and str(e.value).startswith("/brokers/ids/4: ")


# -- topics and partition states ------------------------------------------------------------
def test_topic_assignment_v2_as_written_by_kafka_2_4():
    a = zd.decode_topic_assignment(
        "t",
        b'{"version":2,"partitions":{"0":[1,2,3],"1":[2,3,1]},'
        b'"adding_replicas":{"1":[4]},"removing_replicas":{"1":[1]}}',
    )
    assert a.topic_id is None
    assert a.partitions == {0: ReplicaAssignment((1, 2, 3)), 1: ReplicaAssignment((2, 3, 1), (4,), (1,))}


def test_topic_assignment_v1_and_v3():
    assert zd.decode_topic_assignment("t", b'{"version":1,"partitions":{"0":[5]}}').partitions == {
        0: ReplicaAssignment((5,))
    }
    tid = bytes(range(16))
    data = zd.encode_topic_assignment(tid, {1: ReplicaAssignment((2, 1)), 0: ReplicaAssignment((1, 2), (3,))})
    assert json.loads(data) == {
        "version": 3,
        "topic_id": "AAECAwQFBgcICQoLDA0ODw",
        "partitions": {"0": [1, 2], "1": [2, 1]},
        "adding_replicas": {"0": [3]},
        "removing_replicas": {},
    }
    back = zd.decode_topic_assignment("t", data)
    assert back.topic_id == tid and back.partitions[0].adding_replicas == (3,)
    assert json.loads(zd.encode_topic_assignment(None, {0: ReplicaAssignment((1,))}))["version"] == 2


def test_topic_id_is_kafkas_uuid_string():
    # Kafka's Uuid.toString: URL-safe base64 without padding
    assert zd.encode_topic_id(b"\xff" * 16) == "_____________________w"
    assert zd.decode_topic_id("_____________________w") == b"\xff" * 16
    assert len(zd.generate_cluster_id()) == 22


@pytest.mark.parametrize(
    "data, problem",
    [
        (b'{"version":4,"partitions":{}}', "unsupported version 4"),
        (b'{"version":2,"partitions":{"x":[1]}}', "partition 'x' in 'partitions' is not a partition number"),
        (b'{"version":2,"partitions":{"0":[1,"2"]}}', "partitions[0] must be a list of integers"),
        (b'{"version":2,"partitions":[]}', "'partitions' must be an object"),
        (b'{"version":3,"topic_id":"short","partitions":{}}', "bad topic_id"),
    ],
)
def test_malformed_topic_assignment(data, problem):
    with pytest.raises(ZkDataError, match="^/brokers/topics/t: .*" + problem.replace("[", r"\[")):
        zd.decode_topic_assignment("t", data)


def test_partition_state_as_kafka_writes_it():
    state = LeaderIsrAndControllerEpoch(LeaderAndIsr(1, 4, (1, 2)), 7)
    data = zd.encode_partition_state(state)
    assert data == b'{"controller_epoch":7,"leader":1,"version":1,"leader_epoch":4,"isr":[1,2]}'
    got = zd.decode_partition_state(
        TP, b'{"version":1,"leader":1,"leader_epoch":4,"isr":[1,2],"controller_epoch":7}', 12
    )
    assert got == LeaderIsrAndControllerEpoch(LeaderAndIsr(1, 4, (1, 2), 12), 7)
    assert zd.partition_state_path(TP) == "/brokers/topics/orders/partitions/3/state"


def test_leader_and_isr_next_state_keeps_the_cas_token():
    cur = LeaderAndIsr(1, 4, (1, 2, 3), zk_version=9)
    nxt = cur.new_leader_and_isr(2, [2, 3])
    assert nxt == LeaderAndIsr(2, 5, (2, 3), 9)
    assert nxt.with_zk_version(10).zk_version == 10


@pytest.mark.parametrize(
    "data, problem",
    [
        (b'{"version":1,"leader":1,"leader_epoch":4,"controller_epoch":7}', "'isr' must be a list of integers"),
        (b'{"version":1,"leader":true,"leader_epoch":4,"isr":[],"controller_epoch":7}', "'leader' must be an integer"),
        (
            b'{"version":1,"leader":1,"leader_epoch":4294967296,"isr":[],"controller_epoch":7}',
            "'leader_epoch' is out of range",
        ),
        (b'{"version":2,"leader":1,"leader_epoch":4,"isr":[],"controller_epoch":7}', "unsupported version 2"),
    ],
)
def test_malformed_partition_state(data, problem):
    with pytest.raises(ZkDataError, match=problem):
        zd.decode_partition_state(TP, data, 0)


# -- controller, cluster id, producer ids ---------------------------------------------------
def test_controller_and_epoch():
    assert json.loads(zd.encode_controller(3, 1623000000000)) == {
        "version": 1,
        "brokerid": 3,
        "timestamp": "1623000000000",
    }
    assert zd.decode_controller(b'{"version":1,"brokerid":0,"timestamp":"1623345678901"}') == 0
    assert zd.encode_controller_epoch(7) == b"7" and zd.decode_controller_epoch(b"7") == 7
    with pytest.raises(ZkDataError, match="^/controller_epoch: not an epoch"):
        zd.decode_controller_epoch(b"seven")
    with pytest.raises(ZkDataError, match="^/controller: 'brokerid' is missing"):
        zd.decode_controller(b'{"version":1}')


def test_cluster_id_version_is_a_string():
    assert zd.encode_cluster_id("abc") == b'{"version":"1","id":"abc"}'
    assert zd.decode_cluster_id(b'{"version":"1","id":"7Tz-_dwnQcmhVnQtqCO3Ag"}') == "7Tz-_dwnQcmhVnQtqCO3Ag"
    with pytest.raises(ZkDataError, match="^/cluster/id: 'id' must be a string"):
        zd.decode_cluster_id(b'{"version":"1","id":5}')


def test_producer_id_blocks():
    block = ProducerIdBlock(1, 0, 999)
    assert zd.encode_producer_id_block(block) == b'{"version":1,"broker":1,"block_start":"0","block_end":"999"}'
    assert zd.decode_producer_id_block(zd.encode_producer_id_block(block)) == block
    assert zd.decode_producer_id_block(b"") is None  # the empty znode brokers create at start-up
    assert zd.next_producer_id_block(None, 4) == ProducerIdBlock(4, 0, 999)
    assert zd.next_producer_id_block(block, 2) == ProducerIdBlock(2, 1000, 1999)
    with pytest.raises(ZkDataError, match="exhausted"):
        zd.next_producer_id_block(ProducerIdBlock(1, 2**63 - 1000, 2**63 - 1), 1)
    with pytest.raises(ZkDataError, match="'block_start' must be a string"):
        zd.decode_producer_id_block(b'{"version":1,"broker":1,"block_start":0,"block_end":"999"}')


# -- configs and notifications --------------------------------------------------------------
def test_entity_config():
    data = zd.encode_entity_config({"retention.ms": "1000", "cleanup.policy": "compact"})
    assert json.loads(data) == {"version": 1, "config": {"retention.ms": "1000", "cleanup.policy": "compact"}}
    path = zd.config_entity_path("topics", "t")
    assert zd.decode_entity_config(path, data) == {"retention.ms": "1000", "cleanup.policy": "compact"}
    assert zd.decode_entity_config(path, b"") == {} and zd.decode_entity_config(path, b'{"version":1}') == {}
    with pytest.raises(ZkDataError, match="^/config/topics/t: 'config' must map names to strings"):
        zd.decode_entity_config(path, b'{"version":1,"config":{"retention.ms":1000}}')


def test_config_change_notifications_v2_and_v1():
    assert zd.encode_config_change("topics/t") == b'{"version":2,"entity_path":"topics/t"}'
    p = "/config/changes/config_change_0000000000"
    assert zd.decode_config_change(p, b'{"version":2,"entity_path":"topics/t"}') == "topics/t"
    assert zd.decode_config_change(p, b'{"version" : 1, "entity_type":"topics", "entity_name" : "t"}') == "topics/t"
    with pytest.raises(ZkDataError, match="entity_type"):
        zd.decode_config_change(p, b'{"version":1,"entity_type":"brokers","entity_name":"0"}')


def test_isr_change_notification_exactly_as_kafka():
    data = zd.encode_isr_change([TopicPartition("topic-a", 0), TopicPartition("topic-b", 0)])
    assert data == b'{"version":1,"partitions":[{"topic":"topic-a","partition":0},{"topic":"topic-b","partition":0}]}'
    p = "/isr_change_notification/isr_change_0000000001"
    assert zd.decode_isr_change(p, data) == {TopicPartition("topic-a", 0), TopicPartition("topic-b", 0)}
    assert zd.sequence_number(p, zd.ISR_CHANGE_PREFIX) == "0000000001"
    with pytest.raises(ZkDataError, match="'partition' is missing"):
        zd.decode_isr_change(p, b'{"version":1,"partitions":[{"topic":"t"}]}')


def test_persistent_paths_are_kafkas():
    assert set(zd.PERSISTENT_PATHS) == {
        "/brokers/ids",
        "/brokers/topics",
        "/config/changes",
        "/admin/delete_topics",
        "/isr_change_notification",
        "/latest_producer_id_block",
        "/config/topics",
        "/config/clients",
        "/config/users",
        "/config/brokers",
        "/config/ips",
    }
