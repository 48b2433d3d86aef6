"""MetadataCache: the cluster as this broker knows it (Kafka's MetadataCache).

Metadata, FindCoordinator and DescribeCluster answer from it; Produce, Fetch and the others find
a topic in it. It holds
- the topics: the topic registry (names, ids, partition counts, config overrides; and the
  broker's dynamic configs), hpbroker/metadata/topics.py;
- each partition's state: leader, leader epoch, replicas and ISR;
- the live brokers, and the controller's id.

On a single node every partition is led by this node at leader epoch 0, with this node as its
only replica and ISR; the live brokers are this node, which is also the controller. In a
cluster the controller's UpdateMetadata fills the partition states and brokers here instead.

Who may touch: the event loop of its process. ``update`` replaces the topics (a handler or a
processor applying the registry the controller published); in the process that is the
controller, the controller changes the registry object this cache holds, so its changes show
here at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpbroker.broker.interface import Node
from hpbroker.metadata.topics import TopicInfo, TopicRegistry


@dataclass(frozen=True, slots=True)
class PartitionState:
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline_replicas: tuple[int, ...] = ()


class MetadataCache:
    def __init__(self, node: Node, topics: TopicRegistry):
        self.node = node
        self.topics = topics
        # a single node leads every partition: one state serves them all
        self._led_here = PartitionState(node.node_id, 0, (node.node_id,), (node.node_id,))

    def update(self, topics: TopicRegistry) -> None:
        """The controller published a new registry: it replaces what this cache held."""
        self.topics = topics

    def topic(self, name: str) -> TopicInfo | None:
        return self.topics.get(name)

    def partition_state(self, topic: str, index: int) -> PartitionState | None:
        info = self.topics.get(topic)
        if info is None or not 0 <= index < info.num_partitions:
            return None
        return self._led_here

    def partition_states(self, info: TopicInfo) -> list[PartitionState]:
        """The state of each partition of ``info``, by index."""
        return [self._led_here] * info.num_partitions

    def alive_brokers(self, listener: str | None = None) -> list[Node]:
        """The live brokers with their endpoint on ``listener`` (the one the asking client came
        in on); a broker that does not advertise it is left out, as Kafka does."""
        node = self.node.on(listener)
        return [node] if node is not None else []

    @property
    def controller_id(self) -> int:
        return self.node.node_id
