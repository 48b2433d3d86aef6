"""The topic registry: topic names, ids, partition counts and per-topic config overrides (and
the broker's dynamic configs: this broker's and the cluster-wide defaults).

On disk: ``<first log dir>/__topics.json``, rewritten whole on every change (tmp file, fsync,
rename, fsync of the directory), so a crash leaves either the old or the new registry. Topic
metadata changes are rare (create/delete/alter), so rewriting the file is cheaper than a log.
With a cluster this role moves to ZooKeeper (DESIGN.md section 5).

Who may touch: the broker's main event loop only (single-node controller duties).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

MAX_TOPIC_NAME = 249
_LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})


class InvalidTopic(ValueError):
    """A topic name Kafka would refuse (INVALID_TOPIC_EXCEPTION)."""


def validate_topic_name(name: str) -> None:
    if not name:
        raise InvalidTopic("Topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise InvalidTopic('Topic name cannot be "." or ".."')
    if len(name) > MAX_TOPIC_NAME:
        raise InvalidTopic(f"Topic name is longer than {MAX_TOPIC_NAME} characters")
    if not _LEGAL.match(name):
        raise InvalidTopic(
            f"Topic name {name!r} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        )


@dataclass
class TopicInfo:
    name: str
    topic_id: bytes  # 16-byte UUID, as Kafka's topic ids
    num_partitions: int
    configs: dict[str, str] = field(default_factory=dict)  # overrides only

    @property
    def internal(self) -> bool:
        return self.name in INTERNAL_TOPICS


class TopicRegistry:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.topics: dict[str, TopicInfo] = {}
        #: dynamic broker configs set through AlterConfigs (Kafka keeps them in ZooKeeper): this
        #: broker's (resource "<id>") and the cluster-wide defaults (resource "")
        self.broker_configs: dict[str, str] = {}
        self.broker_default_configs: dict[str, str] = {}
        if self.path.exists():
            self._load(self.path.read_bytes())

    @classmethod
    def from_bytes(cls, path: str | os.PathLike, data: bytes) -> TopicRegistry:
        """A registry from ``to_bytes`` output (a shared-memory snapshot), not from the file;
        ``path`` is where its writer keeps it."""
        registry = cls.__new__(cls)
        registry.path = Path(path)
        registry.topics, registry.broker_configs, registry.broker_default_configs = {}, {}, {}
        registry._load(data)
        return registry

    def _load(self, raw: bytes) -> None:
        data = json.loads(raw)
        self.broker_configs = dict(data.get("broker_configs", {}))
        self.broker_default_configs = dict(data.get("broker_default_configs", {}))
        for t in data.get("topics", []):
            info = TopicInfo(t["name"], bytes.fromhex(t["topic_id"]), int(t["num_partitions"]), dict(t["configs"]))
            self.topics[info.name] = info

    def to_bytes(self) -> bytes:
        """What the file holds (sorted, indented JSON)."""
        data = {
            "version": 1,
            "broker_configs": self.broker_configs,
            "broker_default_configs": self.broker_default_configs,
            "topics": [
                {"name": t.name, "topic_id": t.topic_id.hex(), "num_partitions": t.num_partitions, "configs": t.configs}
                for t in self.topics.values()
            ],
        }
        return json.dumps(data, indent=1, sort_keys=True).encode()

    def get(self, name: str) -> TopicInfo | None:
        return self.topics.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.topics

    def __iter__(self):
        return iter(list(self.topics.values()))

    # Each change is saved before it counts: if the file cannot be written (a full disk), the
    # change is undone in memory and the OSError raised, so memory never holds what the file
    # would lose at the next restart.
    @staticmethod
    def new_topic(name: str, num_partitions: int, configs: dict[str, str] | None = None) -> TopicInfo:
        """A topic with a fresh id, not yet registered (its partitions are opened first)."""
        return TopicInfo(name, uuid.uuid4().bytes, num_partitions, dict(configs or {}))

    def add(self, info: TopicInfo) -> TopicInfo:
        self.topics[info.name] = info
        self._save_or(lambda: self.topics.pop(info.name, None))
        return info

    def create(self, name: str, num_partitions: int, configs: dict[str, str] | None = None) -> TopicInfo:
        return self.add(self.new_topic(name, num_partitions, configs))

    def delete(self, name: str) -> TopicInfo:
        info = self.topics.pop(name)
        self._save_or(lambda: self.topics.__setitem__(name, info))
        return info

    def set_partitions(self, name: str, count: int) -> None:
        info = self.topics[name]
        old, info.num_partitions = info.num_partitions, count
        self._save_or(lambda: setattr(info, "num_partitions", old))

    def set_configs(self, name: str, configs: dict[str, str]) -> None:
        info = self.topics[name]
        old, info.configs = info.configs, dict(configs)
        self._save_or(lambda: setattr(info, "configs", old))

    def set_broker_configs(self, configs: dict[str, str], cluster_default: bool = False) -> None:
        attr = "broker_default_configs" if cluster_default else "broker_configs"
        old = getattr(self, attr)
        setattr(self, attr, dict(configs))
        self._save_or(lambda: setattr(self, attr, old))

    def _save_or(self, undo) -> None:
        try:
            self._save()
        except OSError:
            undo()
            raise

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(self.to_bytes())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)  # the registry file itself is untouched
            raise
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
