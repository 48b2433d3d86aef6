"""ACLs and SCRAM credentials in ZooKeeper, in Kafka's layout (hpbroker/security/zk_stores.py),
against a real ZooKeeper: what one broker writes, another applies within a second."""

import json

from hpbroker.cluster.zk_client import KafkaZkClient
from hpbroker.security.acl import AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType
from hpbroker.security.authorizer import AclAuthorizer
from hpbroker.security.scram import make_credential
from hpbroker.security.zk_stores import ZkAclStore, ZkCredentialStore
from hpbroker.testing import wait_until


def _client(connect):
    return KafkaZkClient(connect, session_timeout_ms=6000, connection_timeout_ms=20000).start()


def test_acls_in_kafkas_layout_apply_on_every_broker(zookeeper_connect):
    one, two = _client(zookeeper_connect), _client(zookeeper_connect)
    try:
        writer = AclAuthorizer(ZkAclStore(one))
        reader = AclAuthorizer(ZkAclStore(two))
        assert not reader.authorize("User:alice", "h", Operation.READ, ResourceType.TOPIC, "orders")
        writer.create(
            [
                AclBinding(ResourceType.TOPIC, "orders", PatternType.LITERAL, "User:alice", "*", Operation.READ, Permission.ALLOW),
                AclBinding(ResourceType.TOPIC, "pay-", PatternType.PREFIXED, "User:bob", "*", Operation.WRITE, Permission.ALLOW),
            ]
        )  # fmt: skip
        wait_until(
            lambda: reader.authorize("User:alice", "h", Operation.READ, ResourceType.TOPIC, "orders"),
            5,
            "the other broker to apply the new ACL",
        )
        assert reader.authorize("User:bob", "h", Operation.WRITE, ResourceType.TOPIC, "pay-1")
        data, _ = one.get_data_and_stat("/kafka-acl/Topic/orders")
        assert json.loads(data) == {
            "version": 1,
            "acls": [{"principal": "User:alice", "permissionType": "Allow", "operation": "Read", "host": "*"}],
        }
        assert one.get_data_and_stat("/kafka-acl-extended/prefixed/Topic/pay-")[0] is not None
        notes = one.get_children("/kafka-acl-changes")
        assert any(one.get_data_and_stat(f"/kafka-acl-changes/{n}")[0] == b"Topic:LITERAL:orders" for n in notes)
        writer.delete(
            [AclFilter(ResourceType.TOPIC, "orders", PatternType.LITERAL, None, None, Operation.ANY, Permission.ANY)]
        )
        wait_until(
            lambda: not reader.authorize("User:alice", "h", Operation.READ, ResourceType.TOPIC, "orders"),
            5,
            "the other broker to apply the deletion",
        )
        assert one.get_data_and_stat("/kafka-acl/Topic/orders")[0] is None
    finally:
        one.close()
        two.close()


def test_changes_through_two_brokers_both_stand(zookeeper_connect):
    """A broker that has not seen another's change yet (its notifications held back here) adds
    to the same resource: both ACLs stand, as each write applies only its own difference."""
    one, two = _client(zookeeper_connect), _client(zookeeper_connect)
    try:
        first = AclAuthorizer(ZkAclStore(one))
        late_store = ZkAclStore(two)
        late_store._changed = lambda: None  # its watch no longer re-reads: its view stays stale
        late = AclAuthorizer(late_store)
        x = AclBinding(
            ResourceType.TOPIC, "t", PatternType.LITERAL, "User:alice", "*", Operation.READ, Permission.ALLOW
        )
        y = AclBinding(ResourceType.TOPIC, "t", PatternType.LITERAL, "User:bob", "*", Operation.WRITE, Permission.ALLOW)
        first.create([x])
        late.create([y])
        data, _ = one.get_data_and_stat("/kafka-acl/Topic/t")
        assert {a["principal"] for a in json.loads(data)["acls"]} == {"User:alice", "User:bob"}
        late.delete(
            [AclFilter(ResourceType.TOPIC, "t", PatternType.LITERAL, "User:bob", None, Operation.ANY, Permission.ANY)]
        )
        data, _ = one.get_data_and_stat("/kafka-acl/Topic/t")
        assert [a["principal"] for a in json.loads(data)["acls"]] == ["User:alice"]
    finally:
        one.close()
        two.close()


def test_scram_credentials_in_config_users(zookeeper_connect):
    zk = _client(zookeeper_connect)
    try:
        store = ZkCredentialStore(zk)
        cred = make_credential("SCRAM-SHA-256", "pw", 8192)
        store.alter({("alice", "SCRAM-SHA-256"): cred}, [])
        assert store.lookup("alice", "SCRAM-SHA-256") == cred
        assert zk.get_entity_configs("users", "alice") == {"SCRAM-SHA-256": cred.encode()}
        assert any(c == "users/alice" for _, c in zk.get_config_changes())
        store.alter({}, [("alice", "SCRAM-SHA-256")])
        assert store.lookup("alice", "SCRAM-SHA-256") is None and store.users() == {}
    finally:
        zk.close()
