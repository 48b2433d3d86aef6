"""The cluster as a broker of it knows it: the topic registry's shape, filled by the controller.

On a single node the topic registry (topics.py) is the truth and lives in ``__topics.json``. In a
cluster ZooKeeper is the truth and the controller tells each broker what it needs (Kafka's
ZkMetadataCache); this registry holds it in memory, in the shape every handler already reads:

- ``topics``: name -> TopicInfo (topic id, partition count, config overrides). A topic appears
  when UpdateMetadata or LeaderAndIsr first names it, with the overrides ZooKeeper holds at
  /config/topics/<t> (the caller reads them first); it goes when UpdateMetadata marks its last
  partition as being deleted (leader -2).
- ``states``: topic -> partition -> PartitionState (leader, leader epoch, replicas, ISR, offline
  replicas, zk_version), as UpdateMetadata sent it; a LeaderAndIsr of a newer leader epoch
  updates it too, so that the moment between the two (Kafka sends LeaderAndIsr first) does not
  show a stale leader.
- ``brokers``: the live brokers (id, advertised host and port, rack, endpoint per listener); ``controller_id`` and
  ``controller_epoch`` of the last UpdateMetadata applied; ``cluster_id``.
- ``broker_configs`` / ``broker_default_configs``: the dynamic broker configs ZooKeeper holds at
  /config/brokers/<id> and /config/brokers/<default>.

Nothing is written to disk: the controller sends everything again to a broker that (re)starts.
``to_bytes``/``from_bytes`` carry the whole of it to the other processes of the multi-process
topology (its metadata snapshot).

Who may touch: the event loop of the process that applies the controller's requests; others
read a copy (``from_bytes``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping

from hpbroker.broker.interface import Node
from hpbroker.broker.metadata_cache import PartitionState
from hpbroker.metadata.topics import TopicInfo, TopicRegistry

#: UpdateMetadata's leader of a partition whose topic is being deleted (Kafka's LeaderDuringDelete)
LEADER_DURING_DELETE = -2
NO_LEADER = -1
NO_TOPIC_ID = bytes(16)


class ClusterRegistry(TopicRegistry):
    def __init__(self, path: str | os.PathLike = "cluster-metadata"):
        # not the file-backed registry: nothing is loaded or saved
        self.path = path  # type: ignore[assignment]
        self.topics = {}
        self.broker_configs = {}
        self.broker_default_configs = {}
        self.states: dict[str, dict[int, PartitionState]] = {}
        self.brokers: dict[int, Node] = {}
        self.controller_id = -1
        self.controller_epoch = 0
        self.cluster_id = ""

    def _save(self) -> None:
        """In memory only (ZooKeeper holds the truth)."""

    # -- applying what the controller sent ------------------------------------------------------
    def ensure_topic(self, name: str, topic_id: bytes | None, configs: Mapping[str, str]) -> TopicInfo:
        """The topic's TopicInfo, made (with ``configs``, its overrides) if it is new; a topic id
        different from the one held means the topic was deleted and made again: a new TopicInfo."""
        info = self.topics.get(name)
        if topic_id is not None and topic_id != NO_TOPIC_ID and info is not None and info.topic_id != topic_id:
            self.states.pop(name, None)
            info = None
        if info is None:
            tid = topic_id if topic_id and topic_id != NO_TOPIC_ID else uuid.uuid5(uuid.NAMESPACE_URL, name).bytes
            info = self.topics[name] = TopicInfo(name, tid, 0, dict(configs))
        return info

    def put_state(self, name: str, index: int, state: PartitionState) -> None:
        """Set one partition's state (its topic must exist: ``ensure_topic``)."""
        parts = self.states.setdefault(name, {})
        parts[index] = state
        info = self.topics[name]
        if index >= info.num_partitions:
            info.num_partitions = index + 1

    def offer_state(self, name: str, index: int, state: PartitionState) -> None:
        """A LeaderAndIsr's state: kept unless UpdateMetadata already gave one as new or newer."""
        held = self.states.get(name, {}).get(index)
        if held is None or state.leader_epoch > held.leader_epoch:
            if held is not None:
                state = PartitionState(
                    state.leader,
                    state.leader_epoch,
                    state.replicas,
                    state.isr,
                    held.offline_replicas,
                    state.zk_version,
                )
            self.put_state(name, index, state)

    def remove_partition(self, name: str, index: int) -> bool:
        """Forget a partition (its topic is being deleted); the topic goes with its last one.
        True if it was known."""
        parts = self.states.get(name)
        if parts is None or parts.pop(index, None) is None:
            return False
        if not parts:
            del self.states[name]
            self.topics.pop(name, None)
        return True

    def set_brokers(self, brokers: Iterable[Node], controller_id: int, controller_epoch: int) -> None:
        self.brokers = {n.node_id: n for n in brokers}
        self.controller_id = controller_id
        self.controller_epoch = controller_epoch

    def set_topic_configs(self, name: str, configs: dict[str, str]) -> TopicInfo | None:
        """New overrides of a topic (a config change in ZooKeeper); None if the topic is unknown."""
        if name not in self.topics:
            return None
        self.set_configs(name, configs)
        return self.topics[name]

    # -- reading ------------------------------------------------------------------------------
    def state(self, name: str, index: int) -> PartitionState | None:
        parts = self.states.get(name)
        return None if parts is None else parts.get(index)

    # -- carried to other processes -------------------------------------------------------------
    def to_bytes(self) -> bytes:
        data = {
            "version": 1,
            "cluster": True,
            "broker_configs": self.broker_configs,
            "broker_default_configs": self.broker_default_configs,
            "controller_id": self.controller_id,
            "controller_epoch": self.controller_epoch,
            "cluster_id": self.cluster_id,
            "brokers": [
                [n.node_id, n.host, n.port, n.rack, [list(e) for e in n.endpoints]] for n in self.brokers.values()
            ],
            "topics": [
                {
                    "name": t.name,
                    "topic_id": t.topic_id.hex(),
                    "num_partitions": t.num_partitions,
                    "configs": t.configs,
                    "states": [
                        [
                            i,
                            s.leader,
                            s.leader_epoch,
                            list(s.replicas),
                            list(s.isr),
                            list(s.offline_replicas),
                            s.zk_version,
                        ]
                        for i, s in sorted(self.states.get(t.name, {}).items())
                    ],
                }
                for t in self.topics.values()
            ],
        }
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, path: str | os.PathLike, data: bytes) -> ClusterRegistry:
        registry = cls(path)
        obj = json.loads(data)
        registry.broker_configs = dict(obj.get("broker_configs", {}))
        registry.broker_default_configs = dict(obj.get("broker_default_configs", {}))
        registry.controller_id = int(obj.get("controller_id", -1))
        registry.controller_epoch = int(obj.get("controller_epoch", 0))
        registry.cluster_id = str(obj.get("cluster_id", ""))
        registry.brokers = {
            b[0]: Node(b[0], b[1], b[2], tuple(tuple(e) for e in b[4]), b[3]) for b in obj.get("brokers", [])
        }
        for t in obj.get("topics", []):
            info = TopicInfo(t["name"], bytes.fromhex(t["topic_id"]), int(t["num_partitions"]), dict(t["configs"]))
            registry.topics[info.name] = info
            registry.states[info.name] = {
                s[0]: PartitionState(s[1], s[2], tuple(s[3]), tuple(s[4]), tuple(s[5]), s[6]) for s in t["states"]
            }
        return registry


def is_cluster_snapshot(data: bytes) -> bool:
    """True if ``data`` (a published registry) is a ClusterRegistry's ``to_bytes``."""
    return data[:64].find(b'"cluster":true') >= 0
