"""The ACL authorizer's rules (hpbroker/security/authorizer.py), as Kafka's AclAuthorizer decides."""

import pytest

from hpbroker.config import BrokerConfig, ConfigError
from hpbroker.security import authorizer as az
from hpbroker.security.acl import AclBinding, AclFilter, InvalidAcl, Operation, PatternType, Permission, ResourceType

T, G, C = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER
LIT, PRE = PatternType.LITERAL, PatternType.PREFIXED
ALLOW, DENY = Permission.ALLOW, Permission.DENY


def acl(name, principal, op, permission=ALLOW, pattern=LIT, rtype=T, host="*"):
    return AclBinding(rtype, name, pattern, principal, host, op, permission)


def make(tmp_path, bindings, supers=(), allow_if_none=False):
    a = az.AclAuthorizer(az.FileAclStore(str(tmp_path)), supers, allow_if_none)
    a.create(bindings)
    return a


def test_literal_prefixed_wildcard_and_deny_wins(tmp_path):
    a = make(
        tmp_path,
        [
            acl("orders", "User:alice", Operation.READ),
            acl("pay-", "User:alice", Operation.WRITE, pattern=PRE),
            acl("*", "User:bob", Operation.DESCRIBE),
            acl("pay-secret", "User:alice", Operation.ALL, DENY),
        ],
    )
    ok = lambda p, op, name, host="10.0.0.1": a.authorize(p, host, op, T, name)
    assert ok("User:alice", Operation.READ, "orders")
    assert not ok("User:alice", Operation.WRITE, "orders")
    assert ok("User:alice", Operation.DESCRIBE, "orders")  # READ implies DESCRIBE
    assert ok("User:alice", Operation.WRITE, "pay-1")
    assert not ok("User:alice", Operation.WRITE, "pay-secret")  # deny wins over the prefix
    assert ok("User:bob", Operation.DESCRIBE, "anything")
    assert not ok("User:bob", Operation.READ, "anything")
    assert not ok("User:carol", Operation.READ, "nothing-names-it")  # no ACL: refused by default


def test_hosts_super_users_and_allow_everyone_if_no_acl(tmp_path):
    a = make(
        tmp_path, [acl("t", "User:alice", Operation.READ, host="10.0.0.1")], supers={"User:root"}, allow_if_none=True
    )
    assert a.authorize("User:alice", "10.0.0.1", Operation.READ, T, "t")
    assert not a.authorize("User:alice", "10.0.0.2", Operation.READ, T, "t")
    assert a.authorize("User:root", "h", Operation.DELETE, T, "t")
    assert a.authorize("User:anyone", "h", Operation.READ, T, "unnamed")  # no ACL and allow.everyone


def test_alter_configs_implies_describe_configs_and_all_covers_every_operation(tmp_path):
    a = make(
        tmp_path, [acl("t", "User:a", Operation.ALTER_CONFIGS), acl("kafka-cluster", "User:a", Operation.ALL, rtype=C)]
    )
    assert a.authorize("User:a", "h", Operation.DESCRIBE_CONFIGS, T, "t")
    assert a.authorize("User:a", "h", Operation.CLUSTER_ACTION, C, "kafka-cluster")


def test_authorize_by_resource_type(tmp_path):
    a = make(
        tmp_path,
        [
            acl("t1", "User:a", Operation.WRITE),
            acl("p-", "User:b", Operation.WRITE, pattern=PRE),
            acl("p-", "User:b", Operation.WRITE, DENY, pattern=PRE),
            acl("*", "User:c", Operation.WRITE, DENY),
            acl("x", "User:c", Operation.WRITE),
        ],
    )
    assert a.authorize_any("User:a", "h", Operation.WRITE, T)
    assert not a.authorize_any("User:b", "h", Operation.WRITE, T)  # its only allow is covered by a deny
    assert not a.authorize_any("User:c", "h", Operation.WRITE, T)  # deny on every topic
    assert not a.authorize_any("User:d", "h", Operation.WRITE, T)


def test_decisions_follow_changes(tmp_path):
    a = make(tmp_path, [acl("t", "User:a", Operation.READ)])
    assert a.authorize("User:a", "h", Operation.READ, T, "t")
    removed = a.delete([AclFilter(T, "t", LIT, None, None, Operation.ANY, Permission.ANY)])
    assert len(removed[0]) == 1
    assert not a.authorize("User:a", "h", Operation.READ, T, "t")
    # another process reading the same file sees it too
    other = az.AclAuthorizer(az.FileAclStore(str(tmp_path)))
    assert other.bindings() == []


def test_filters_match_as_kafka_describes(tmp_path):
    a = make(tmp_path, [acl("orders", "User:a", Operation.READ), acl("ord", "User:a", Operation.READ, pattern=PRE)])
    match = AclFilter(T, "orders", PatternType.MATCH, None, None, Operation.ANY, Permission.ANY)
    assert len(a.bindings(match)) == 2
    literal = AclFilter(T, "orders", LIT, None, None, Operation.ANY, Permission.ANY)
    assert len(a.bindings(literal)) == 1
    anything = AclFilter(ResourceType.ANY, None, PatternType.ANY, None, None, Operation.ANY, Permission.ANY)
    assert len(a.bindings(anything)) == 2


def test_bindings_kafka_refuses(tmp_path):
    for b in (
        acl("g", "User:a", Operation.WRITE, rtype=G),  # WRITE is not a group operation
        acl("other", "User:a", Operation.ALTER, rtype=C),  # the cluster is kafka-cluster
        acl("*", "User:a", Operation.READ, pattern=PRE),
        acl("t", "alice", Operation.READ),  # no principal type
    ):
        with pytest.raises(InvalidAcl):
            b.validate()


def test_authorizer_class_names(tmp_path):
    assert az.from_config(BrokerConfig({}), str(tmp_path)) is None
    for name in az.KAFKA_AUTHORIZERS:
        assert az.from_config(BrokerConfig({"authorizer.class.name": name}), str(tmp_path)) is not None
    with pytest.raises(ConfigError):
        az.from_config(BrokerConfig({"authorizer.class.name": "com.example.Mine"}), str(tmp_path))
    a = az.from_config(BrokerConfig({"authorizer.class.name": name, "super.users": "User:a; User:b"}), str(tmp_path))
    assert a.super_users == {"User:a", "User:b"}
