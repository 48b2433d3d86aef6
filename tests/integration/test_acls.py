"""ACL authorization with Kafka's semantics: an ACL matrix (each API against a literal ALLOW, a
prefixed ALLOW, a DENY that wins over an ALLOW, a super user, a resource no ACL names, a
principal with no ACL) that fails when any cell answers wrong; ACLs created, listed and deleted
with real admin clients (confluent-kafka, kafka-python) and applied at once; principals from
SASL PLAIN."""

import uuid

import pytest

from hpbroker.records.builder import build_batch
from hpbroker.testing import wait_until
from tests.integration.conftest import mode_broker
from tests.integration.rawclient import RawClient, produce_body

pytestmark = pytest.mark.integration

JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";'
)
NONE, TOPIC_DENIED, GROUP_DENIED, CLUSTER_DENIED = 0, 29, 30, 31


@pytest.fixture(scope="module")
def acl_broker():
    config = {
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": "PLAIN",
        "plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:admin",
    }
    with mode_broker(config=config) as b:
        yield b


def admin_conf(broker, user="admin"):
    return {
        "bootstrap.servers": broker.listeners["SASL_PLAINTEXT"],
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": user,
        "sasl.password": f"{user}-secret",
    }


class Client(RawClient):
    """A raw client logged in with SASL PLAIN: exact requests, exact error codes."""

    def __init__(self, broker, user):
        super().__init__(broker.listeners["SASL_PLAINTEXT"])
        assert self.request(17, 1, {"mechanism": "PLAIN"})["error_code"] == 0
        answer = self.request(36, 1, {"auth_bytes": f"\0{user}\0{user}-secret".encode()})
        assert answer["error_code"] == 0, answer


def binding(rtype, name, principal, op, permission="ALLOW", pattern="LITERAL"):
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    return AclBinding(
        getattr(ResourceType, rtype),
        name,
        getattr(ResourcePatternType, pattern),
        principal,
        "*",
        getattr(AclOperation, op),
        getattr(AclPermissionType, permission),
    )


@pytest.fixture(scope="module")
def world(acl_broker):
    """Topics (made by the super user) and the ACLs of the matrix, created with confluent-kafka."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(admin_conf(acl_broker))
    suffix = uuid.uuid4().hex[:6]
    names = {k: f"{k}-{suffix}" for k in ("orders", "secret", "open")}
    names["pre"] = f"pre{suffix}-1"
    for f in admin.create_topics([NewTopic(n, 1, 1) for n in names.values()]).values():
        f.result(15)
    acls = [
        binding("TOPIC", names["orders"], "User:alice", "READ"),
        binding("TOPIC", names["orders"], "User:alice", "WRITE"),
        binding("TOPIC", f"pre{suffix}-", "User:alice", "ALL", pattern="PREFIXED"),
        binding("TOPIC", names["secret"], "User:*", "READ"),
        binding("TOPIC", names["secret"], "User:alice", "READ", permission="DENY"),
        binding("GROUP", f"g-alice-{suffix}", "User:alice", "READ"),
    ]
    for f in admin.create_acls(acls).values():
        assert f.result(15) is None
    return {"names": names, "prefix": f"pre{suffix}-", "group": f"g-alice-{suffix}", "suffix": suffix}


def produce_code(c, topic):
    body = produce_body(topic, 0, build_batch([b"v"]))
    return c.request(0, 8, body)["responses"][0]["partition_responses"][0]["error_code"]


def fetch_code(c, topic):
    body = {
        "replica_id": -1,
        "max_wait_ms": 0,
        "min_bytes": 0,
        "max_bytes": 1 << 20,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {"topic": topic, "partitions": [{"partition": 0, "fetch_offset": 0, "log_start_offset": -1, "partition_max_bytes": 1 << 20, "current_leader_epoch": -1}]}
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }  # fmt: skip
    return c.request(1, 11, body)["responses"][0]["partitions"][0]["error_code"]


def list_offsets_code(c, topic):
    body = {
        "replica_id": -1,
        "isolation_level": 0,
        "topics": [
            {"name": topic, "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}]}
        ],
    }
    return c.request(2, 5, body)["topics"][0]["partitions"][0]["error_code"]


def offset_for_leader_epoch_code(c, topic, replica_id=-1):
    body = {"replica_id": replica_id, "topics": [{"topic": topic, "partitions": [{"partition": 0, "leader_epoch": 0}]}]}
    return c.request(23, 3, body)["topics"][0]["partitions"][0]["error_code"]


def metadata_topics(c, topics=None):
    body = {
        "topics": None if topics is None else [{"name": t} for t in topics],
        "allow_auto_topic_creation": False,
        "include_cluster_authorized_operations": False,
        "include_topic_authorized_operations": False,
    }
    return {t["name"]: t["error_code"] for t in c.request(3, 8, body)["topics"]}


def create_topic_code(c, name):
    body = {"topics": [{"name": name, "num_partitions": 1, "replication_factor": 1, "assignments": [], "configs": []}], "timeout_ms": 10000, "validate_only": False}  # fmt: skip
    return c.request(19, 4, body)["topics"][0]["error_code"]


def delete_topic_code(c, name):
    return c.request(20, 3, {"topic_names": [name], "timeout_ms": 10000})["responses"][0]["error_code"]


def describe_configs_code(c, rtype, name):
    body = {"resources": [{"resource_type": rtype, "resource_name": name, "configuration_keys": None}], "include_synonyms": False, "include_documentation": False}  # fmt: skip
    return c.request(32, 3, body)["results"][0]["error_code"]


def find_coordinator_code(c, group):
    return c.request(10, 2, {"key": group, "key_type": 0})["error_code"]


def offset_fetch_code(c, group):
    return c.request(9, 5, {"group_id": group, "topics": None, "require_stable": False})["error_code"]


def offset_commit_codes(c, group, topic):
    body = {
        "group_id": group,
        "generation_id_or_member_epoch": -1,
        "member_id": "",
        "group_instance_id": None,
        "retention_time_ms": -1,
        "topics": [{"name": topic, "partitions": [{"partition_index": 0, "committed_offset": 0, "committed_leader_epoch": -1, "committed_metadata": ""}]}],
    }  # fmt: skip
    return c.request(8, 7, body)["topics"][0]["partitions"][0]["error_code"]


def init_producer_id_code(c):
    return c.request(22, 1, {"transactional_id": None, "transaction_timeout_ms": 60000})["error_code"]


def create_acls_code(c):
    body = {"creations": [{"resource_type": 2, "resource_name": "x", "resource_pattern_type": 3, "principal": "User:x", "host": "*", "operation": 3, "permission_type": 3}]}  # fmt: skip
    return c.request(30, 1, body)["results"][0]["error_code"]


def describe_acls_code(c):
    body = {"resource_type_filter": 1, "resource_name_filter": None, "pattern_type_filter": 1, "principal_filter": None, "host_filter": None, "operation": 1, "permission_type": 1}  # fmt: skip
    return c.request(29, 1, body)["error_code"]


def describe_cluster_code(c):
    return c.request(60, 0, {"include_cluster_authorized_operations": True})["error_code"]


def test_the_acl_matrix(acl_broker, world):
    n, suffix = world["names"], world["suffix"]
    alice, bob, admin = (Client(acl_broker, u) for u in ("alice", "bob", "admin"))
    try:
        cells = [
            # (what, call, expected)
            ("produce alice literal", lambda: produce_code(alice, n["orders"]), NONE),
            ("produce alice prefixed", lambda: produce_code(alice, n["pre"]), NONE),
            ("produce alice no write acl", lambda: produce_code(alice, n["secret"]), TOPIC_DENIED),
            ("produce alice no acl at all", lambda: produce_code(alice, n["open"]), TOPIC_DENIED),
            ("produce bob", lambda: produce_code(bob, n["orders"]), TOPIC_DENIED),
            ("produce super user", lambda: produce_code(admin, n["open"]), NONE),
            ("fetch alice literal", lambda: fetch_code(alice, n["orders"]), NONE),
            ("fetch alice prefixed", lambda: fetch_code(alice, n["pre"]), NONE),
            ("fetch alice deny wins", lambda: fetch_code(alice, n["secret"]), TOPIC_DENIED),
            ("fetch bob wildcard principal", lambda: fetch_code(bob, n["secret"]), NONE),
            ("fetch alice no acl", lambda: fetch_code(alice, n["open"]), TOPIC_DENIED),
            ("fetch super user", lambda: fetch_code(admin, n["open"]), NONE),
            ("list offsets alice (read implies describe)", lambda: list_offsets_code(alice, n["orders"]), NONE),
            ("list offsets bob", lambda: list_offsets_code(bob, n["orders"]), TOPIC_DENIED),
            ("offset for leader epoch alice (describe)", lambda: offset_for_leader_epoch_code(alice, n["orders"]), NONE),
            ("offset for leader epoch bob", lambda: offset_for_leader_epoch_code(bob, n["orders"]), TOPIC_DENIED),
            ("offset for leader epoch alice as a follower", lambda: offset_for_leader_epoch_code(alice, n["orders"], 1), CLUSTER_DENIED),
            ("metadata alice named, no acl", lambda: metadata_topics(alice, [n["open"]])[n["open"]], TOPIC_DENIED),
            ("metadata alice named literal", lambda: metadata_topics(alice, [n["orders"]])[n["orders"]], NONE),
            ("describe configs alice literal (read does not imply it)", lambda: describe_configs_code(alice, 2, n["orders"]), TOPIC_DENIED),
            ("describe configs alice prefixed ALL", lambda: describe_configs_code(alice, 2, n["pre"]), NONE),
            ("describe configs broker alice", lambda: describe_configs_code(alice, 4, "0"), CLUSTER_DENIED),
            ("describe configs broker super user", lambda: describe_configs_code(admin, 4, "0"), NONE),
            ("create topic alice prefixed", lambda: create_topic_code(alice, f"pre{suffix}-new"), NONE),
            ("create topic alice elsewhere", lambda: create_topic_code(alice, f"other-{suffix}"), TOPIC_DENIED),
            ("delete topic alice prefixed", lambda: delete_topic_code(alice, f"pre{suffix}-new"), NONE),
            ("delete topic bob", lambda: delete_topic_code(bob, n["orders"]), TOPIC_DENIED),
            ("find coordinator alice own group", lambda: find_coordinator_code(alice, world["group"]), NONE),
            ("find coordinator alice other group", lambda: find_coordinator_code(alice, f"g-other-{suffix}"), GROUP_DENIED),
            ("offset fetch bob", lambda: offset_fetch_code(bob, world["group"]), GROUP_DENIED),
            ("offset commit alice allowed", lambda: offset_commit_codes(alice, world["group"], n["orders"]), NONE),
            ("offset commit alice topic denied", lambda: offset_commit_codes(alice, world["group"], n["open"]), TOPIC_DENIED),
            ("offset commit bob group denied", lambda: offset_commit_codes(bob, world["group"], n["orders"]), GROUP_DENIED),
            ("init producer id alice (write on a topic)", lambda: init_producer_id_code(alice), NONE),
            ("init producer id bob", lambda: init_producer_id_code(bob), CLUSTER_DENIED),
            ("create acls alice", lambda: create_acls_code(alice), CLUSTER_DENIED),
            ("describe acls alice", lambda: describe_acls_code(alice), CLUSTER_DENIED),
            ("describe acls super user", lambda: describe_acls_code(admin), NONE),
            ("describe cluster bob", lambda: describe_cluster_code(bob), CLUSTER_DENIED),
            ("describe cluster super user", lambda: describe_cluster_code(admin), NONE),
        ]  # fmt: skip
        wrong = []
        for what, call, expected in cells:
            got = call()
            if got != expected:
                wrong.append(f"{what}: {got}, expected {expected}")
        assert not wrong, "\n".join(wrong)
        # Metadata of every topic shows only what each principal may describe
        assert set(metadata_topics(alice)) >= {n["orders"], n["pre"], n["secret"]}
        assert n["open"] not in metadata_topics(alice)
        assert set(metadata_topics(bob)) == {n["secret"]}
        assert set(metadata_topics(admin)) >= set(n.values())
    finally:
        for c in (alice, bob, admin):
            c.close()


def test_no_authorization_on_an_unauthenticated_listener_means_anonymous(acl_broker, world):
    """PLAINTEXT clients are User:ANONYMOUS: no ACL names them, so they are refused."""
    with RawClient(acl_broker.listeners["PLAINTEXT"]) as anonymous:
        assert produce_code(anonymous, world["names"]["open"]) == TOPIC_DENIED
        assert fetch_code(anonymous, world["names"]["secret"]) == NONE  # User:* READ


def test_acls_listed_and_deleted_with_kafka_python_apply_at_once(acl_broker, world):
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePatternFilter,
        ResourceType,
    )

    admin = KafkaAdminClient(
        bootstrap_servers=acl_broker.listeners["SASL_PLAINTEXT"],
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="admin",
        sasl_plain_password="admin-secret",
    )
    orders = world["names"]["orders"]
    try:
        flt = ACLFilter(
            principal="User:alice",
            host="*",
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, orders, ACLResourcePatternType.LITERAL),
        )
        acls, error = admin.describe_acls(flt)
        assert {a.operation for a in acls} == {ACLOperation.READ, ACLOperation.WRITE}
        with Client(acl_broker, "alice") as alice:
            assert produce_code(alice, orders) == NONE
            ((_, matching, err),) = admin.delete_acls([flt])
            assert len(matching) == 2
            # every process follows the ACL file within a second
            wait_until(lambda: produce_code(alice, orders) == TOPIC_DENIED, 5, "the deleted ACL to apply")
    finally:
        admin.close()


def test_confluent_producer_sees_topic_authorization_failed(acl_broker, world):
    from confluent_kafka import KafkaError, Producer

    p = Producer({**admin_conf(acl_broker, "bob"), "message.timeout.ms": 5000})
    errors = []
    p.produce(world["names"]["orders"], b"x", on_delivery=lambda err, msg: errors.append(err))
    p.flush(15)
    assert errors and errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_an_acl_change_holds_for_the_next_request(acl_broker, world):
    """CreateAcls and DeleteAcls answer once the change holds in every process: alice's very next
    Produce (served by the partition's handler) and Metadata (served where her connection is)
    see it, with no time to catch up. Both connections stay open and busy, so no process looks
    at the ACLs for another reason."""
    topic = world["names"]["open"]
    acls = [
        {"resource_type": 2, "resource_name": topic, "resource_pattern_type": 3, "principal": "User:alice", "host": "*", "operation": op, "permission_type": 3}
        for op in (4, 8)  # WRITE, DESCRIBE; ALLOW on the LITERAL topic
    ]  # fmt: skip
    everything_of_alice = {"resource_type_filter": 2, "resource_name_filter": topic, "pattern_type_filter": 3, "principal_filter": "User:alice", "host_filter": None, "operation": 1, "permission_type": 1}  # fmt: skip
    with Client(acl_broker, "admin") as admin, Client(acl_broker, "alice") as alice:
        for i in range(8):
            assert produce_code(alice, topic) == TOPIC_DENIED
            assert metadata_topics(alice, [topic])[topic] == TOPIC_DENIED
            answer = admin.request(30, 1, {"creations": acls})  # CreateAcls
            assert [r["error_code"] for r in answer["results"]] == [NONE, NONE]
            assert produce_code(alice, topic) == NONE, f"round {i}: the created ACL not applied to Produce"
            assert metadata_topics(alice, [topic])[topic] == NONE, f"round {i}: ... nor to Metadata"
            answer = admin.request(31, 1, {"filters": [everything_of_alice]})  # DeleteAcls
            assert len(answer["filter_results"][0]["matching_acls"]) == 2
