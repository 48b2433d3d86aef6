"""The ACL authorizer: Kafka's AclAuthorizer semantics over a store of ACL bindings.

Theory of operation
-------------------
``authorize(principal, host, operation, resource_type, name)``, as Kafka decides it:

1. a principal in ``super.users`` may do anything (and the broker's own requests between its
   processes, INTERNAL_PRINCIPAL);
2. the ACLs that apply to the resource are the LITERAL ones of its name, the LITERAL ``*`` of
   its type, and the PREFIXED ones whose prefix begins its name;
3. with none at all, ``allow.everyone.if.no.acl.found`` decides (false by default);
4. a DENY for the principal (or ``User:*``) from the host (or ``*``) for the operation (or ALL)
   refuses: deny wins;
5. else an ALLOW that matches the same way allows; READ, WRITE, DELETE and ALTER imply DESCRIBE,
   ALTER_CONFIGS implies DESCRIBE_CONFIGS; else refused.

``authorize_any`` is Kafka's authorizeByResourceType (InitProducerId of an idempotent producer:
WRITE on any topic): some ALLOW on a resource of the type that no DENY covers.

Cost: the ACLs are indexed by (type, literal name) and (type, prefix); a decision is cached per
(principal, host, operation, type, name) until the ACLs change, so a request with ACLs in force
costs a dictionary look-up per resource it names, whatever their number.

The store (``AclStore``) holds the bindings: in a cluster ZooKeeper's /kafka-acl nodes
(security/zk_stores.py; a multi-process broker's handler 0 holds them and copies them into the
file below for its other processes), on a single node a JSON file under the log directory
(security/stores.py), in Kafka's per-resource JSON. Every process reads it; only the controller
writes it (CreateAcls, DeleteAcls), then publishes the change (``controller.security_changed``,
as after a topic change): the answer leaves once every handler process has re-read the ACLs, and
each processor re-reads them before its next request. A file changed otherwise (``hpbroker
acls`` on the node) applies in every process within CHECK_S.

Who may touch: the event loop of its process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from time import monotonic
from typing import Protocol

from hpbroker.broker.request import INTERNAL_PRINCIPAL
from hpbroker.configdef.types import ConfigError
from hpbroker.security.acl import (
    IMPLIED_BY,
    SUPPORTED_OPERATIONS,
    WILDCARD,
    WILDCARD_PRINCIPAL,
    AclBinding,
    AclFilter,
    Operation,
    PatternType,
    Permission,
    ResourceType,
)
from hpbroker.security.stores import CHECK_S, JsonFileStore

ACLS_FILE = "__acls.json"
#: Kafka's authorizers, any of which selects this one
KAFKA_AUTHORIZERS = frozenset(
    {
        "kafka.security.authorizer.AclAuthorizer",
        "kafka.security.auth.SimpleAclAuthorizer",
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    }
)
_CACHE_LIMIT = 100_000

# Kafka's names in the ACL JSON (ZooKeeper /kafka-acl/<ResourceType>/<name>)
_TYPE_NAMES = {
    ResourceType.TOPIC: "Topic",
    ResourceType.GROUP: "Group",
    ResourceType.CLUSTER: "Cluster",
    ResourceType.TRANSACTIONAL_ID: "TransactionalId",
    ResourceType.DELEGATION_TOKEN: "DelegationToken",
    ResourceType.USER: "User",
}
_TYPES_BY_NAME = {v: k for k, v in _TYPE_NAMES.items()}
_OPERATION_NAMES = {op: "".join(w.capitalize() for w in op.name.split("_")) for op in Operation}
_OPERATIONS_BY_NAME = {v: k for k, v in _OPERATION_NAMES.items()}


class AclStore(Protocol):
    generation: int

    def bindings(self) -> list[AclBinding]: ...

    def update(self, added: list[AclBinding], removed: list[AclBinding]) -> None:
        """Add and remove bindings, applied to what the store holds when it writes (a change
        made meanwhile by another writer stays)."""

    def expire(self) -> None:
        """Re-read at the next look (the controller published a change)."""


class FileAclStore:
    """The bindings in ``<log dir>/__acls.json``, grouped by resource as Kafka's ZooKeeper nodes:
    {"version": 1, "resources": {"Topic:LITERAL:orders": [{"principal": "User:alice",
    "permissionType": "Allow", "operation": "Read", "host": "*"}]}}"""

    def __init__(self, log_dir: str):
        self.store = JsonFileStore(os.path.join(log_dir, ACLS_FILE), "ACLs")
        self._cache: tuple[int, list[AclBinding]] = (-1, [])

    @property
    def generation(self) -> int:
        self.store.read()
        return self.store.generation

    def bindings(self) -> list[AclBinding]:
        doc = self.store.read()
        if self._cache[0] != self.store.generation:
            out = []
            for key, acls in doc.get("resources", {}).items():
                type_name, pattern, name = key.split(":", 2)
                for a in acls:
                    out.append(
                        AclBinding(
                            _TYPES_BY_NAME[type_name],
                            name,
                            PatternType[pattern],
                            a["principal"],
                            a["host"],
                            _OPERATIONS_BY_NAME[a["operation"]],
                            Permission[a["permissionType"].upper()],
                        )
                    )
            self._cache = (self.store.generation, out)
        return self._cache[1]

    def expire(self) -> None:
        self.store.expire()

    def update(self, added: list[AclBinding], removed: list[AclBinding]) -> None:
        self.store.expire()
        current = self.bindings()
        gone = set(removed)
        have = set(current)
        self.replace([b for b in current if b not in gone] + [b for b in added if b not in have])

    def replace(self, bindings: list[AclBinding]) -> None:
        """Write exactly these bindings (a cluster broker's copy of ZooKeeper's for its other
        processes)."""
        resources: dict[str, list] = {}
        for b in bindings:
            key = f"{_TYPE_NAMES[ResourceType(b.resource_type)]}:{PatternType(b.pattern_type).name}:{b.name}"
            resources.setdefault(key, []).append(
                {
                    "principal": b.principal,
                    "host": b.host,
                    "operation": _OPERATION_NAMES[Operation(b.operation)],
                    "permissionType": Permission(b.permission).name.capitalize(),
                }
            )
        self.store.write({"version": 1, "resources": resources})


def from_config(config, log_dir: str, store: Callable[[], AclStore] | None = None) -> AclAuthorizer | None:
    """The authorizer ``authorizer.class.name`` asks for, None when it is empty; its ACLs in
    ``store()`` (a cluster's ZooKeeper, security/zk_stores.py), else the file under ``log_dir``."""
    name = (config.get("authorizer.class.name") or "").strip()
    if not name:
        return None
    if name not in KAFKA_AUTHORIZERS:
        raise ConfigError(
            f"authorizer.class.name {name}: hpbroker's authorizer is Kafka's ACL authorizer "
            "(kafka.security.authorizer.AclAuthorizer)"
        )
    supers = {s.strip() for s in (config.get("super.users") or "").split(";") if s.strip()}
    acls = store() if store is not None else FileAclStore(log_dir)
    return AclAuthorizer(acls, supers, bool(config.get("allow.everyone.if.no.acl.found")))


class AclAuthorizer:
    def __init__(self, store: AclStore, super_users=(), allow_if_no_acl: bool = False):
        self.store = store
        self.super_users = frozenset(super_users)
        self.allow_if_no_acl = allow_if_no_acl
        self._generation = -1
        self._literal: dict[tuple[int, str], list[AclBinding]] = {}
        self._prefixed: dict[int, dict[str, list[AclBinding]]] = {}
        self._by_type: dict[int, list[AclBinding]] = {}
        self._decisions: dict[tuple, bool] = {}
        self._next_check = 0.0  # when to look at the store again (it re-reads at most every CHECK_S)

    # the index ---------------------------------------------------------------------------------
    def _refresh(self) -> None:
        generation = self.store.generation
        if generation == self._generation:
            return
        literal: dict[tuple[int, str], list[AclBinding]] = {}
        prefixed: dict[int, dict[str, list[AclBinding]]] = {}
        by_type: dict[int, list[AclBinding]] = {}
        for b in self.store.bindings():
            by_type.setdefault(b.resource_type, []).append(b)
            if b.pattern_type == PatternType.PREFIXED:
                prefixed.setdefault(b.resource_type, {}).setdefault(b.name, []).append(b)
            else:
                literal.setdefault((b.resource_type, b.name), []).append(b)
        self._literal, self._prefixed, self._by_type = literal, prefixed, by_type
        self._decisions = {}
        self._generation = generation

    def matching(self, resource_type: int, name: str) -> list[AclBinding]:
        """The ACLs that apply to a resource: its literal name, ``*``, prefixes of it."""
        out = list(self._literal.get((resource_type, name), ()))
        out += self._literal.get((resource_type, WILDCARD), ())
        prefixes = self._prefixed.get(resource_type)
        if prefixes:
            for i in range(1, len(name) + 1):
                found = prefixes.get(name[:i])
                if found:
                    out += found
        return out

    # decisions ---------------------------------------------------------------------------------
    def expire(self) -> None:
        """The controller published a change: look at the store at the next decision."""
        self.store.expire()
        self._next_check = 0.0

    def authorize(self, principal: str, host: str, operation: int, resource_type: int, name: str) -> bool:
        # the per-request path: one clock read, one dictionary look-up
        if monotonic() >= self._next_check:
            self._next_check = monotonic() + CHECK_S
            self._refresh()
        key = (principal, host, operation, resource_type, name)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide(principal, host, operation, resource_type, name)
            if len(self._decisions) >= _CACHE_LIMIT:
                self._decisions = {}
            self._decisions[key] = decision
        return decision

    def _decide(self, principal, host, operation, resource_type, name) -> bool:
        if principal in self.super_users or principal == INTERNAL_PRINCIPAL:
            return True
        acls = self.matching(resource_type, name)
        if not acls:
            return self.allow_if_no_acl
        applies = [
            a
            for a in acls
            if (a.principal == principal or a.principal == WILDCARD_PRINCIPAL)
            and (a.host == host or a.host == WILDCARD)
        ]
        if any(a.permission == Permission.DENY and a.operation in (operation, Operation.ALL) for a in applies):
            return False
        allowed_by = IMPLIED_BY.get(operation, (operation,))
        return any(
            a.permission == Permission.ALLOW and (a.operation == Operation.ALL or a.operation in allowed_by)
            for a in applies
        )

    def authorize_any(self, principal: str, host: str, operation: int, resource_type: int) -> bool:
        """Kafka's authorizeByResourceType: an ALLOW of ``operation`` on some resource of the type
        that no DENY covers."""
        self._refresh()
        if principal in self.super_users or principal == INTERNAL_PRINCIPAL:
            return True
        acls = self._by_type.get(resource_type, [])
        if not acls:
            return self.allow_if_no_acl
        allowed_by = IMPLIED_BY.get(operation, (operation,))

        def applies(a, ops):
            return (
                (a.principal == principal or a.principal == WILDCARD_PRINCIPAL)
                and (a.host == host or a.host == WILDCARD)
                and (a.operation == Operation.ALL or a.operation in ops)
            )

        denies = [a for a in acls if a.permission == Permission.DENY and applies(a, (operation,))]
        if any(d.pattern_type == PatternType.LITERAL and d.name == WILDCARD for d in denies):
            return False
        for a in acls:
            if a.permission != Permission.ALLOW or not applies(a, allowed_by):
                continue
            covered = any(
                (d.pattern_type == PatternType.PREFIXED and a.name.startswith(d.name))
                or (
                    d.pattern_type == PatternType.LITERAL and a.pattern_type == PatternType.LITERAL and d.name == a.name
                )
                for d in denies
            )
            if not covered:
                return True
        return False

    def authorized_operations(self, principal: str, host: str, resource_type: int, name: str) -> int:
        """KIP-430: the bitfield of the operations on a resource the principal may do."""
        bits = 0
        for op in SUPPORTED_OPERATIONS.get(resource_type, ()):
            if self.authorize(principal, host, op, resource_type, name):
                bits |= 1 << op
        return bits

    # changes (the controller) ------------------------------------------------------------------
    def bindings(self, flt: AclFilter | None = None) -> list[AclBinding]:
        self._refresh()
        everything = self.store.bindings()
        return list(everything) if flt is None else [b for b in everything if flt.matches(b)]

    def create(self, new: list[AclBinding]) -> None:
        current = set(self.store.bindings())
        self.store.update([b for b in dict.fromkeys(new) if b not in current], [])
        self._next_check = 0.0

    def delete(self, filters: list[AclFilter]) -> list[list[AclBinding]]:
        """The bindings each filter removed (a binding matched by several counts for the first)."""
        current = self.store.bindings()
        removed: list[list[AclBinding]] = [[] for _ in filters]
        kept = []
        for b in current:
            for i, f in enumerate(filters):
                if f.matches(b):
                    removed[i].append(b)
                    break
            else:
                kept.append(b)
        if len(kept) != len(current):
            self.store.update([], [b for group in removed for b in group])
            self._next_check = 0.0
        return removed
