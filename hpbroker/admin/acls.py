"""``hpbroker acls add|list|remove``: ACLs as ``kafka-acls.sh`` manages them (its
``--authorizer-properties`` form, which writes the authorizer's store directly): a single node's
ACL file under its log directory (``--data-dir``), or a cluster's ZooKeeper (``--zookeeper
HOST:PORT[/chroot]``, /kafka-acl and a change notification, as Kafka); a running broker applies a
change within a second.

    hpbroker acls add --allow-principal User:alice --operation Read --operation Write --topic orders --data-dir ./data
    hpbroker acls add --allow-principal User:alice --consumer --topic orders --group app --data-dir ./data
    hpbroker acls add --allow-principal User:bob --operation All --topic pay- --resource-pattern-type prefixed ...
    hpbroker acls list [--topic orders] [--principal User:alice] --data-dir ./data
    hpbroker acls remove --allow-principal User:alice --operation Read --topic orders --data-dir ./data
    hpbroker acls add --allow-principal User:broker --operation ClusterAction --cluster --zookeeper zk1:2181/kafka
"""

from __future__ import annotations

import argparse
import os
import sys

from hpbroker.admin import zk_target
from hpbroker.cluster.zk_session import ZkUnavailableError
from hpbroker.security.acl import (
    CLUSTER_NAME,
    AclBinding,
    AclFilter,
    InvalidAcl,
    Operation,
    PatternType,
    Permission,
    ResourceType,
)
from hpbroker.security.authorizer import AclAuthorizer, FileAclStore
from hpbroker.security.zk_stores import ZkAclStore

_OPS = {op.name.replace("_", "").lower(): op for op in Operation if op not in (Operation.UNKNOWN, Operation.ANY)}


def _operation(text: str) -> Operation:
    op = _OPS.get(text.replace("_", "").replace("-", "").lower())
    if op is None:
        raise argparse.ArgumentTypeError(f"unknown operation {text} (Read, Write, Create, Delete, Alter, Describe ...)")
    return op


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpbroker acls", description="ACLs of a broker's log directory (kafka-acls.sh).")
    sub = p.add_subparsers(dest="acls_command", required=True)
    for name in ("add", "list", "remove"):
        sp = sub.add_parser(name)
        sp.add_argument("--topic", action="append", default=[])
        sp.add_argument("--group", action="append", default=[])
        sp.add_argument("--transactional-id", action="append", default=[])
        sp.add_argument("--cluster", action="store_true")
        sp.add_argument(
            "--resource-pattern-type", default=None, choices=["literal", "prefixed", "any", "match"], type=str.lower
        )
        zk_target.add_arguments(sp)
        if name == "list":
            sp.add_argument("--principal", default=None)
            continue
        sp.add_argument("--allow-principal", action="append", default=[])
        sp.add_argument("--deny-principal", action="append", default=[])
        sp.add_argument("--allow-host", action="append", default=[])
        sp.add_argument("--deny-host", action="append", default=[])
        sp.add_argument("--operation", action="append", default=[], type=_operation)
        sp.add_argument("--producer", action="store_true", help="Write, Describe, Create on the topics")
        sp.add_argument("--consumer", action="store_true", help="Read, Describe on the topics, Read on the groups")
    return p


def _resources(args) -> list[tuple[ResourceType, str]]:
    out = [(ResourceType.TOPIC, t) for t in args.topic]
    out += [(ResourceType.GROUP, g) for g in args.group]
    out += [(ResourceType.TRANSACTIONAL_ID, t) for t in args.transactional_id]
    if args.cluster:
        out.append((ResourceType.CLUSTER, CLUSTER_NAME))
    return out


def _bindings(args) -> list[AclBinding]:
    pattern = PatternType.PREFIXED if args.resource_pattern_type == "prefixed" else PatternType.LITERAL
    entries = [(p, Permission.ALLOW, args.allow_host or ["*"]) for p in args.allow_principal]
    entries += [(p, Permission.DENY, args.deny_host or ["*"]) for p in args.deny_principal]
    out = []
    for rtype, name in _resources(args):
        ops = list(args.operation)
        if args.producer and rtype == ResourceType.TOPIC:
            ops += [Operation.WRITE, Operation.DESCRIBE, Operation.CREATE]
        if args.consumer:
            ops += [Operation.READ, Operation.DESCRIBE] if rtype == ResourceType.TOPIC else [Operation.READ]
        if args.producer and rtype == ResourceType.TRANSACTIONAL_ID:
            ops += [Operation.WRITE, Operation.DESCRIBE]
        for principal, permission, hosts in entries:
            for host in hosts:
                for op in dict.fromkeys(ops or [Operation.ALL]):
                    out.append(AclBinding(rtype, name, pattern, principal, host, op, permission))
    return out


def _show(bindings) -> None:
    for b in sorted(bindings, key=lambda b: (b.resource_type, b.name, b.principal, b.operation)):
        print(
            f"{ResourceType(b.resource_type).name}:{PatternType(b.pattern_type).name}:{b.name}\t{b.principal}\t"
            f"{Permission(b.permission).name}\t{Operation(b.operation).name}\tfrom host {b.host}"
        )


def main(args: argparse.Namespace) -> int:
    if args.zookeeper:
        try:
            with zk_target.zookeeper(args.zookeeper) as zk:
                return _run(args, AclAuthorizer(ZkAclStore(zk)))
        except ZkUnavailableError as exc:
            print(f"hpbroker acls: cannot reach ZooKeeper at {args.zookeeper}: {exc}", file=sys.stderr)
            return 1
    if args.acls_command == "add":
        os.makedirs(args.data_dir, exist_ok=True)
    if not os.path.isdir(args.data_dir):
        print(f"hpbroker acls: {args.data_dir} is not a directory", file=sys.stderr)
        return 2
    return _run(args, AclAuthorizer(FileAclStore(args.data_dir)))


def _run(args: argparse.Namespace, authorizer: AclAuthorizer) -> int:
    if args.acls_command == "list":
        resources = _resources(args)
        pattern = {"prefixed": PatternType.PREFIXED, "literal": PatternType.LITERAL, "match": PatternType.MATCH}.get(
            args.resource_pattern_type or "", PatternType.ANY
        )
        found = []
        for rtype, name in resources or [(ResourceType.ANY, None)]:
            flt = AclFilter(rtype, name, pattern, args.principal, None, Operation.ANY, Permission.ANY)
            found += authorizer.bindings(flt)
        _show(dict.fromkeys(found))
        return 0
    bindings = _bindings(args)
    if not bindings:
        print("hpbroker acls: name a resource (--topic, --group, --cluster ...) and a principal", file=sys.stderr)
        return 2
    try:
        for b in bindings:
            b.validate()
    except InvalidAcl as exc:
        print(f"hpbroker acls: {exc}", file=sys.stderr)
        return 2
    if args.acls_command == "add":
        authorizer.create(bindings)
        print(f"added {len(bindings)} ACLs")
        _show(bindings)
    else:
        filters = [
            AclFilter(b.resource_type, b.name, b.pattern_type, b.principal, b.host, b.operation, b.permission)
            for b in bindings
        ]
        removed = [b for group in authorizer.delete(filters) for b in group]
        print(f"removed {len(removed)} ACLs")
        _show(removed)
    return 0
