"""ACLs and SCRAM credentials in ZooKeeper, in Kafka's layout, for a cluster (the same
interfaces as the single node's files: authorizer.AclStore, credentials.CredentialStore).

    /kafka-acl/<ResourceType>/<name>                        LITERAL ACLs of one resource
    /kafka-acl-extended/prefixed/<ResourceType>/<name>      PREFIXED ACLs of one resource
        {"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Read","host":"*"}]}
    /kafka-acl-changes/acl_changes_<seq>                    "Topic:LITERAL:orders" (a literal resource changed)
    /kafka-acl-extended-changes/acl_changes_<seq>           {"version":1,"resourceType":"Topic","name":"pay-",
                                                             "patternType":"PREFIXED"}
    /config/users/<user>                                    {"version":1,"config":{"SCRAM-SHA-256":"salt=...,..."}}
    /config/changes/config_change_<seq>                     {"version":2,"entity_path":"users/<user>"}

Every broker reads all ACLs and all credentials at start and watches the change paths (both ACL
ones, /config/changes for ``users/<user>``): a notification makes it re-read what changed
(``generation`` moves, the authorizer drops its cached decisions) and calls ``on_change``, so a
change applies on every broker within ZooKeeper's notification time, and a login or a decision
never waits for ZooKeeper. A change made here (``update``, ``alter``) is written to ZooKeeper
before it returns (Kafka's AclAuthorizer and AdminZkClient write synchronously too); both are
the controller APIs' (CreateAcls, DeleteAcls, AlterUserScramCredentials) and the tools'.

Who may touch: the event loop of its process; kazoo's thread runs the watches, which only swap
in new contents (under a lock) and bump the generation; ``on_change`` is called on either thread
(a broker hops to its loop).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from hpbroker.cluster import zk_data as zd
from hpbroker.security.acl import AclBinding, PatternType, Permission, ResourceType
from hpbroker.security.authorizer import _OPERATION_NAMES, _OPERATIONS_BY_NAME, _TYPE_NAMES, _TYPES_BY_NAME
from hpbroker.security.scram import MECHANISMS, ScramCredential

ACL_PATH = "/kafka-acl"
EXTENDED_ACL_PATH = "/kafka-acl-extended/prefixed"
ACL_CHANGES_PATH = "/kafka-acl-changes"
EXTENDED_ACL_CHANGES_PATH = "/kafka-acl-extended-changes"
ACL_CHANGE_PREFIX = "acl_changes_"
USERS = "users"

log = logging.getLogger(__name__)


def resource_path(resource_type: int, pattern_type: int, name: str) -> str:
    base = ACL_PATH if pattern_type == PatternType.LITERAL else EXTENDED_ACL_PATH
    return f"{base}/{_TYPE_NAMES[ResourceType(resource_type)]}/{name}"


def encode_acls(bindings: list[AclBinding]) -> bytes:
    return json.dumps(
        {
            "version": 1,
            "acls": [
                {
                    "principal": b.principal,
                    "permissionType": Permission(b.permission).name.capitalize(),
                    "operation": _OPERATION_NAMES[b.operation],
                    "host": b.host,
                }
                for b in bindings
            ],
        },
        separators=(",", ":"),
    ).encode()


def decode_acls(resource_type: int, pattern_type: int, name: str, data: bytes) -> list[AclBinding]:
    doc = json.loads(data)
    return [
        AclBinding(
            resource_type,
            name,
            pattern_type,
            a["principal"],
            a["host"],
            _OPERATIONS_BY_NAME[a["operation"]],
            Permission[a["permissionType"].upper()],
        )
        for a in doc.get("acls", [])
    ]


class ZkAclStore:
    def __init__(self, zk, on_change: Callable[[], None] | None = None):
        self.zk = zk  # a started cluster.zk_client.KafkaZkClient
        self.on_change = on_change
        for path in (ACL_PATH, EXTENDED_ACL_PATH, ACL_CHANGES_PATH, EXTENDED_ACL_CHANGES_PATH):
            zk.make_sure_persistent_path_exists(path)
        self.generation = 0
        self._lock = threading.Lock()
        self._bindings: list[AclBinding] = []
        self._reload()
        zk.watch_children(ACL_CHANGES_PATH, lambda children: self._changed())
        zk.watch_children(EXTENDED_ACL_CHANGES_PATH, lambda children: self._changed())

    def _changed(self) -> None:
        self._reload()
        if self.on_change is not None:
            self.on_change()

    def _reload(self) -> None:
        with self._lock:
            out = []
            for base, pattern in ((ACL_PATH, PatternType.LITERAL), (EXTENDED_ACL_PATH, PatternType.PREFIXED)):
                for type_name in self.zk.get_children(base):
                    rtype = _TYPES_BY_NAME.get(type_name)
                    if rtype is None:
                        continue
                    for name in self.zk.get_children(f"{base}/{type_name}"):
                        data, _ = self.zk.get_data_and_stat(f"{base}/{type_name}/{name}")
                        if data:
                            try:
                                out += decode_acls(rtype, pattern, name, data)
                            except (ValueError, KeyError) as exc:
                                log.error("malformed ACLs at %s/%s/%s (ignored): %r", base, type_name, name, exc)
            if out != self._bindings:
                self._bindings = out
                self.generation += 1

    def bindings(self) -> list[AclBinding]:
        return self._bindings

    def expire(self) -> None:
        pass  # the change notifications' watch re-reads

    def update(self, added: list[AclBinding], removed: list[AclBinding]) -> None:
        """Apply the bindings added and removed to each resource they name, on what its znode
        holds, with a conditional write tried again when another broker wrote it meanwhile (so
        concurrent changes through two brokers both stand); a resource left with no ACLs is
        deleted. Then a change notification per resource, as Kafka's AclAuthorizer."""
        changes: dict[tuple, tuple[set, set]] = {}
        for bindings, i in ((added, 0), (removed, 1)):
            for x in bindings:
                changes.setdefault((x.resource_type, x.pattern_type, x.name), (set(), set()))[i].add(x)
        for key, (plus, minus) in changes.items():
            self._update_resource(key, plus, minus)
            rtype, pattern, name = key
            if pattern == PatternType.LITERAL:
                note, base = f"{_TYPE_NAMES[ResourceType(rtype)]}:LITERAL:{name}".encode(), ACL_CHANGES_PATH
            else:
                note = json.dumps(
                    {
                        "version": 1,
                        "resourceType": _TYPE_NAMES[ResourceType(rtype)],
                        "name": name,
                        "patternType": "PREFIXED",
                    }
                ).encode()
                base = EXTENDED_ACL_CHANGES_PATH
            self.zk.create_sequential_persistent_path(f"{base}/{ACL_CHANGE_PREFIX}", note)
        self._reload()

    def _update_resource(self, key: tuple, added: set, removed: set) -> None:
        path = resource_path(*key)
        while True:
            data, version = self.zk.get_data_and_version(path)
            current = decode_acls(*key, data) if data else []
            acls = [b for b in current if b not in removed] + sorted(
                (b for b in added if b not in current), key=lambda b: (b.principal, b.host, b.operation, b.permission)
            )
            if version < 0:  # no znode
                if not acls:
                    return
                try:
                    self.zk.create_recursive(path, encode_acls(acls))
                    return
                except NodeExistsError:
                    continue  # created meanwhile: apply the difference to it
            if not acls:
                try:
                    self.zk.kazoo.delete(path, version=version)
                    return
                except NoNodeError:
                    return
                except BadVersionError:
                    continue
            if self.zk.conditional_update_path(path, encode_acls(acls), version)[0]:
                return


class ZkCredentialStore:
    """SCRAM credentials in /config/users/<user>, beside the user's other configs (quotas), held
    in memory and re-read per user on its change notification."""

    def __init__(self, zk, on_change: Callable[[], None] | None = None):
        self.zk = zk
        self.on_change = on_change
        self._lock = threading.Lock()
        self._users: dict[str, dict[str, ScramCredential]] = {}
        self._last: str | None = None  # the newest change notification handled
        changes = zk.get_config_changes(None, _ignore)
        self._last = changes[-1][0] if changes else None
        self._read(zk.get_all_entities_with_config(USERS))
        zk.watch_children(zd.CONFIG_CHANGES_PATH, lambda children: self._changed())

    def _read(self, users) -> None:
        """Read these users' credentials again (under the lock)."""
        with self._lock:
            found = dict(self._users)
            for user, configs in self.zk.get_entities_configs(USERS, sorted(users), _ignore).items():
                mechs = {m: ScramCredential.decode(v) for m, v in configs.items() if m in MECHANISMS}
                if mechs:
                    found[user] = mechs
                else:
                    found.pop(user, None)
            self._users = found

    def _changed(self) -> None:
        with self._lock:
            changes = self.zk.get_config_changes(self._last, _ignore)
            if not changes:
                return
            self._last = changes[-1][0]
        users = {entity.partition("/")[2] for _, entity in changes if entity.partition("/")[0] == USERS}
        if users:
            self._read(users)
            if self.on_change is not None:
                self.on_change()

    def expire(self) -> None:
        pass  # the change notifications' watch re-reads

    def lookup(self, user: str, mechanism: str) -> ScramCredential | None:
        return self._users.get(user, {}).get(mechanism)

    def users(self) -> dict[str, dict[str, ScramCredential]]:
        return self._users

    def alter(self, upserts: dict, deletions: list) -> None:
        users = {u for u, _ in upserts} | {u for u, _ in deletions}
        for user in sorted(users):
            configs = dict(self.zk.get_entity_configs(USERS, user))
            for u, mechanism in deletions:
                if u == user:
                    configs.pop(mechanism, None)
            for (u, mechanism), credential in upserts.items():
                if u == user:
                    configs[mechanism] = credential.encode()
            self.zk.set_or_create_entity_configs(USERS, user, configs)
            self.zk.create_config_change_notification(f"{USERS}/{user}")
        self._read(users)


def _ignore(exc) -> None:
    log.error("malformed znode %s (ignored)", exc)
