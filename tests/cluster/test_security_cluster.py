"""Security in a cluster of three brokers on a real ZooKeeper: the brokers talk to each other on a
SASL_SSL inter-broker listener with SCRAM (the controller's requests, replica fetchers), clients
use confluent-kafka over SASL_SSL, and ACLs and SCRAM credentials live in ZooKeeper: a change
made through one broker (or ``hpbroker acls|users --zookeeper``) holds on every broker within a
second. The inter-broker APIs need CLUSTER_ACTION, which the brokers' principal has as a super
user and another principal only through an ACL.

One cluster per topology serves the module (three brokers in-process, two of the multi-process
topology: processor, handler 0 and handler 1 must all follow a change); each broker is checked on its own with exact requests
(cluster/broker_client.py, the client the brokers use among themselves)."""

import asyncio
import ssl
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from hpbroker.cluster.broker_client import BrokerClient, BrokerUnavailable, InterBrokerSecurity
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.sasl_client import SaslCredentials
from hpbroker.testing import wait_until
from hpbroker.testing.cluster import running_cluster
from tests.cluster.brokers import CLUSTER_OF_BROKERS, new_name
from tests.security.certs import make_certs

pytestmark = [pytest.mark.integration, CLUSTER_OF_BROKERS]

LISTENER = "SASL_SSL"
MECHANISM = "SCRAM-SHA-256"
PASSWORDS = {"broker": "broker-secret", "admin": "admin-secret", "mallory": "mallory-secret"}
#: a change made through one broker holds on every broker within this (the issue's second)
PROPAGATION_S = 1.0


def _tool(*argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", "hpbroker", *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("certs")))


#: (brokers, their arguments) of each topology: the multi-process one's handler 0 holds the
#: ZooKeeper session and copies ACLs and credentials for its other handler and its processor
TOPOLOGIES = {"in-process": (3, []), "multi-process": (2, ["--processors", "1", "--handlers", "2"])}


@pytest.fixture(scope="module", params=list(TOPOLOGIES))
def cluster(request, zookeeper_server, certs):
    brokers, args = TOPOLOGIES[request.param]
    zookeeper_server.start()
    config = {
        "listeners": f"{LISTENER}://127.0.0.1:0",
        "security.inter.broker.protocol": LISTENER,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        f"listener.name.{LISTENER.lower()}.{MECHANISM.lower()}.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="broker" password="{PASSWORDS["broker"]}";'
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": certs.broker,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": certs.ca,
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:broker;User:admin",
        "offsets.topic.num.partitions": 3,
        "transaction.state.log.num.partitions": 3,
    }
    with running_cluster(brokers, zookeeper=zookeeper_server, config=config, args=args, start=False) as c:
        # the brokers' own user first, in ZooKeeper, as kafka-configs.sh --zookeeper before Kafka starts
        for user in ("broker", "admin"):
            _tool("users", "set", user, "--password", PASSWORDS[user], "--zookeeper", c.zookeeper_connect)
        for b in c.brokers.values():
            b.start()
        wait_until(lambda: len(_admin(c, certs).list_topics(timeout=5).brokers) == brokers, 30, "every broker")
        c.topology = request.param
        yield c


def _client_conf(cluster, certs, user="admin", bootstrap=None) -> dict:
    return {
        "bootstrap.servers": bootstrap or cluster.bootstrap_of(LISTENER),
        "security.protocol": LISTENER,
        "sasl.mechanism": MECHANISM,
        "sasl.username": user,
        "sasl.password": PASSWORDS[user],
        "ssl.ca.location": certs.ca,
    }


def _admin(cluster, certs, bootstrap=None) -> AdminClient:
    return AdminClient(_client_conf(cluster, certs, bootstrap=bootstrap))


def _security(certs, user: str, password: str) -> InterBrokerSecurity:
    context = ssl.create_default_context(cafile=certs.ca)
    return InterBrokerSecurity(LISTENER, LISTENER, context, SaslCredentials(MECHANISM, user, password))


def _ask(broker, certs, user: str, password: str, api_key: int, version: int, body: dict) -> dict:
    """One request to one broker over SASL_SSL as ``user``; BrokerUnavailable if the login fails."""
    host, port = broker.listener(LISTENER).rsplit(":", 1)

    async def go():
        client = BrokerClient(host, int(port), "security-test", 10.0, _security(certs, user, password))
        try:
            return await client.request(api_key, version, body)
        finally:
            client.close()

    return asyncio.run(go())


def _logs_in(broker, certs, user: str, password: str) -> bool:
    try:
        _ask(broker, certs, user, password, 18, 3, {"client_software_name": "t", "client_software_version": "1"})
        return True
    except BrokerUnavailable:
        return False


def _describe_code(broker, certs, user: str, topic: str) -> int:
    """The error code of ``topic`` in a Metadata answer to ``user`` from one broker."""
    body = {"topics": [{"name": topic}], "allow_auto_topic_creation": False}
    return _ask(broker, certs, user, PASSWORDS[user], 3, 8, body)["topics"][0]["error_code"]


def _on_every_broker(cluster, condition, what: str) -> float:
    """Poll until ``condition(broker)`` holds on every broker; the seconds it took."""
    start = time.monotonic()
    pending = set(cluster.brokers)
    while pending:
        pending = {i for i in pending if not condition(cluster.brokers[i])}
        if pending and time.monotonic() - start > 10:
            raise AssertionError(f"{what}: not on brokers {sorted(pending)} after 10 s")
    return time.monotonic() - start


def test_replication_over_a_sasl_ssl_inter_broker_listener(cluster, certs):
    """A replica on every broker with acks=all: the followers fetch over SASL_SSL as User:broker
    and join the ISR; what was acknowledged is consumed."""
    topic = new_name("secrepl")
    rf = len(cluster.brokers)
    admin = _admin(cluster, certs)
    for f in admin.create_topics([NewTopic(topic, 2, rf, config={"min.insync.replicas": str(rf)})]).values():
        f.result(30)

    def full_isr():
        t = admin.list_topics(topic, timeout=5).topics[topic]
        return len(t.partitions) == 2 and all(len(p.isrs) == rf and p.leader > 0 for p in t.partitions.values())

    wait_until(full_isr, 30, "every partition's ISR to hold every broker")
    conf = _client_conf(cluster, certs)
    producer = Producer({**conf, "acks": "all", "enable.idempotence": True})
    values = [f"v{i}".encode() for i in range(200)]
    errors = []
    for v in values:
        producer.produce(topic, v, on_delivery=lambda err, msg: err and errors.append(err))
    assert producer.flush(30) == 0 and not errors
    consumer = Consumer({**conf, "group.id": new_name("g"), "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < len(values) and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    consumer.close()
    assert sorted(got) == sorted(values)
    assert full_isr()


def test_transaction_markers_over_a_sasl_ssl_inter_broker_listener(cluster, certs):
    """A transaction over partitions led by every broker (and, in the multi-process topology,
    owned by every handler): its coordinator has the markers written by WriteTxnMarkers over
    SASL_SSL as User:broker; a read_committed consumer sees the committed records only."""
    topic = new_name("sectxn")
    admin = _admin(cluster, certs)
    for f in admin.create_topics([NewTopic(topic, 4, 1)]).values():
        f.result(30)
    conf = _client_conf(cluster, certs)
    producer = Producer({**conf, "transactional.id": new_name("tx"), "linger.ms": 5})
    producer.init_transactions(60)
    producer.begin_transaction()
    for i in range(8):
        producer.produce(topic, b"aborted", partition=i % 4)
    assert producer.flush(30) == 0
    producer.abort_transaction(60)
    producer.begin_transaction()
    values = [f"c{i}".encode() for i in range(8)]
    for i, v in enumerate(values):
        producer.produce(topic, v, partition=i % 4)
    producer.commit_transaction(60)
    consumer = Consumer(
        {**conf, "group.id": new_name("g"), "auto.offset.reset": "earliest", "isolation.level": "read_committed"}
    )
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < len(values) and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    consumer.close()
    assert sorted(got) == sorted(values)


def test_a_scram_user_added_through_one_broker_logs_in_on_every_broker(cluster, certs):
    user, password = new_name("carol"), "carol-secret"
    PASSWORDS[user] = password
    for b in cluster.brokers.values():
        assert not _logs_in(b, certs, user, password)
    one = _admin(cluster, certs, bootstrap=cluster.brokers[2].listener(LISTENER))
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096)
    for f in one.alter_user_scram_credentials([UserScramCredentialUpsertion(user, info, password.encode())]).values():
        f.result(15)
    took = _on_every_broker(cluster, lambda b: _logs_in(b, certs, user, password), f"{user} to log in")
    assert took < PROPAGATION_S, f"the new user logged in everywhere only after {took:.2f} s"


def test_acls_created_through_one_broker_hold_on_every_broker(cluster, certs):
    topic = new_name("secacl")
    admin = _admin(cluster, certs)
    for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        f.result(30)
    user = new_name("dan")
    _tool("users", "set", user, "--password", "dan-secret", "--zookeeper", cluster.zookeeper_connect)
    PASSWORDS[user] = "dan-secret"
    _on_every_broker(cluster, lambda b: _logs_in(b, certs, user, "dan-secret"), f"{user} (hpbroker users) to log in")
    denied = ErrorCode.TOPIC_AUTHORIZATION_FAILED
    for b in cluster.brokers.values():
        assert _describe_code(b, certs, user, topic) == denied
    one = _admin(cluster, certs, bootstrap=cluster.brokers[len(cluster.brokers)].listener(LISTENER))
    acl = AclBinding(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        f"User:{user}",
        "*",
        AclOperation.DESCRIBE,
        AclPermissionType.ALLOW,
    )
    for f in one.create_acls([acl]).values():
        f.result(15)
    took = _on_every_broker(cluster, lambda b: _describe_code(b, certs, user, topic) == 0, "the ACL")
    assert took < PROPAGATION_S, f"the ACL held everywhere only after {took:.2f} s"
    # and removed through another broker, with the tool as kafka-acls.sh
    _tool(
        "acls", "remove", "--allow-principal", f"User:{user}", "--operation", "Describe", "--topic", topic,
        "--zookeeper", cluster.zookeeper_connect,
    )  # fmt: skip
    took = _on_every_broker(cluster, lambda b: _describe_code(b, certs, user, topic) == denied, "the ACL's removal")
    assert took < PROPAGATION_S, f"the removal held everywhere only after {took:.2f} s"


#: inter-broker requests that change nothing once allowed (a controller epoch of 0 is stale, no
#: broker 99 exists): CLUSTER_AUTHORIZATION_FAILED without CLUSTER_ACTION, another answer with it
CLUSTER_ACTIONS = {
    "LeaderAndIsr": (4, 5, {"controller_id": 1, "controller_epoch": 0, "broker_epoch": -1, "type": 0}),
    "UpdateMetadata": (6, 7, {"controller_id": 1, "controller_epoch": 0, "broker_epoch": -1}),
    "StopReplica": (5, 3, {"controller_id": 1, "controller_epoch": 0, "broker_epoch": -1}),
    "ControlledShutdown": (7, 3, {"broker_id": 99, "broker_epoch": -1}),
}


def _cluster_action_codes(cluster, certs, user: str) -> dict[str, int]:
    codes = {}
    for b in cluster.brokers.values():
        for name, (key, version, body) in CLUSTER_ACTIONS.items():
            codes[f"{name} to {b.broker_id}"] = _ask(b, certs, user, PASSWORDS[user], key, version, body)["error_code"]
        fetch = {
            "replica_id": 99,
            "max_wait_ms": 0,
            "topics": [{"topic": "__consumer_offsets", "partitions": [{"partition": 0, "fetch_offset": 0}]}],
        }
        answer = _ask(b, certs, user, PASSWORDS[user], 1, 11, fetch)
        codes[f"follower Fetch to {b.broker_id}"] = answer["responses"][0]["partitions"][0]["error_code"]
        epochs = {
            "replica_id": 99,
            "topics": [{"topic": "__consumer_offsets", "partitions": [{"partition": 0, "leader_epoch": 0}]}],
        }
        answer = _ask(b, certs, user, PASSWORDS[user], 23, 3, epochs)
        codes[f"follower OffsetForLeaderEpoch to {b.broker_id}"] = answer["topics"][0]["partitions"][0]["error_code"]
    return codes


def _refusal(name: str) -> int:
    """Kafka refuses a follower's Fetch without CLUSTER_ACTION per partition as
    TOPIC_AUTHORIZATION_FAILED, every other inter-broker request as CLUSTER_AUTHORIZATION_FAILED."""
    if name.startswith("follower Fetch"):
        return ErrorCode.TOPIC_AUTHORIZATION_FAILED
    return ErrorCode.CLUSTER_AUTHORIZATION_FAILED


def test_inter_broker_requests_need_cluster_action(cluster, certs):
    """A principal that is neither a super user nor allowed CLUSTER_ACTION is refused every
    inter-broker request, as Kafka refuses a broker whose principal lacks it; an ACL lets it in."""
    _tool("users", "set", "mallory", "--password", PASSWORDS["mallory"], "--zookeeper", cluster.zookeeper_connect)
    _on_every_broker(cluster, lambda b: _logs_in(b, certs, "mallory", PASSWORDS["mallory"]), "mallory to log in")
    refused = _cluster_action_codes(cluster, certs, "mallory")
    assert refused == {name: _refusal(name) for name in refused}
    # the brokers' own principal is a super user: the same requests pass the check
    allowed = _cluster_action_codes(cluster, certs, "broker")
    assert not any(code == _refusal(name) for name, code in allowed.items()), allowed
    _tool(
        "acls", "add", "--allow-principal", "User:mallory", "--operation", "ClusterAction", "--cluster",
        "--zookeeper", cluster.zookeeper_connect,
    )  # fmt: skip
    wait_until(
        lambda: (
            not any(code == _refusal(name) for name, code in _cluster_action_codes(cluster, certs, "mallory").items())
        ),
        10,
        "CLUSTER_ACTION for mallory",
    )
    _tool(
        "acls", "remove", "--allow-principal", "User:mallory", "--operation", "ClusterAction", "--cluster",
        "--zookeeper", cluster.zookeeper_connect,
    )  # fmt: skip
