"""SCRAM credentials: per user and mechanism, salted as Kafka stores them (security/scram.py).

``CredentialStore`` is what the SASL servers look users up in and what
AlterUserScramCredentials / DescribeUserScramCredentials and ``hpbroker users`` change. On a
single node it is a JSON file under the log directory (security/stores.py):

    {"version": 1, "users": {"alice": {"SCRAM-SHA-256": "salt=...,stored_key=...,server_key=...,iterations=4096"}}}

the same per-user document Kafka keeps in ZooKeeper at /config/users/<user> (its "config"). A
broker of a cluster keeps them in ZooKeeper (security/zk_stores.py); the processes of a
multi-process one read the copy handler 0 writes to this file.
"""

from __future__ import annotations

import os
from typing import Protocol

from hpbroker.security.scram import ScramCredential
from hpbroker.security.stores import JsonFileStore

CREDENTIALS_FILE = "__scram_credentials.json"


class CredentialStore(Protocol):
    def lookup(self, user: str, mechanism: str) -> ScramCredential | None: ...

    def users(self) -> dict[str, dict[str, ScramCredential]]: ...

    def alter(self, upserts: dict, deletions: list) -> None:
        """``upserts``: (user, mechanism) -> ScramCredential; ``deletions``: (user, mechanism)."""

    def expire(self) -> None:
        """Re-read at the next look (the controller published a change)."""


class FileCredentialStore:
    def __init__(self, log_dir: str):
        self.store = JsonFileStore(os.path.join(log_dir, CREDENTIALS_FILE), "SCRAM credentials")
        self._cache: tuple[int, dict] = (-1, {})

    def users(self) -> dict[str, dict[str, ScramCredential]]:
        doc = self.store.read()
        generation, users = self._cache
        if generation != self.store.generation:
            users = {
                user: {mech: ScramCredential.decode(text) for mech, text in mechs.items()}
                for user, mechs in doc.get("users", {}).items()
            }
            self._cache = (self.store.generation, users)
        return users

    def lookup(self, user: str, mechanism: str) -> ScramCredential | None:
        return self.users().get(user, {}).get(mechanism)

    def expire(self) -> None:
        self.store.expire()

    def replace(self, users: dict[str, dict[str, ScramCredential]]) -> None:
        """Write exactly these users' credentials (a cluster broker's copy of ZooKeeper's for its
        other processes)."""
        doc = {"version": 1, "users": {u: {m: c.encode() for m, c in mechs.items()} for u, mechs in users.items()}}
        if doc != self.store.read():
            self.store.write(doc)

    def alter(self, upserts: dict, deletions: list) -> None:
        self.store._reload()
        users = {u: dict(m) for u, m in self.store.read().get("users", {}).items()}
        for user, mechanism in deletions:
            users.get(user, {}).pop(mechanism, None)
        for (user, mechanism), credential in upserts.items():
            users.setdefault(user, {})[mechanism] = credential.encode()
        self.store.write({"version": 1, "users": {u: m for u, m in users.items() if m}})
