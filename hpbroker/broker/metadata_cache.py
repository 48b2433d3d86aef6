"""MetadataCache: the cluster as this broker knows it (Kafka's MetadataCache).

Metadata, FindCoordinator and DescribeCluster answer from it; Produce, Fetch and the others find
a topic in it. It holds
- the topics: the topic registry (names, ids, partition counts, config overrides; and the
  broker's dynamic configs), hpbroker/metadata/topics.py;
- each partition's state: leader, leader epoch, replicas and ISR;
- the live brokers, and the controller's id.

On a single node every partition is led by this node at leader epoch 0, with this node as its
only replica and ISR; the live brokers are this node, which is also the controller. In a
cluster the controller's UpdateMetadata fills the partition states and brokers instead
(``ClusterMetadataCache`` below).

Who may touch: the event loop of its process. ``update`` replaces the topics (a handler or a
processor applying the registry the controller published); in the process that is the
controller, the controller changes the registry object this cache holds, so its changes show
here at once.
"""

from __future__ import annotations

import asyncio
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
    zk_version: int = 0  # the partition epoch: the version of its state znode in a cluster


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


#: the state of a partition the controller has not described yet, or whose leader is gone
_NO_LEADER = PartitionState(-1, -1, (), ())


class ClusterMetadataCache(MetadataCache):
    """A broker's cache in a cluster: everything comes from the controller (UpdateMetadata,
    applied to a ClusterRegistry, hpbroker/metadata/cluster_registry.py), as Kafka's
    ZkMetadataCache. A partition's leader may be another broker, or none (-1: offline).

    ``generation`` moves with every change applied, and ``changed`` wakes whoever awaits one
    (a topic being created or deleted completes when the cache shows it, as Kafka's
    DelayedCreatePartitions and DelayedDeleteTopics)."""

    def __init__(self, node: Node, topics):
        super().__init__(node, topics)
        self.generation = 0
        self._waiters: list = []
        #: called after every change (handler 0 of the multi-process topology publishes it)
        self.listeners: list = []

    def partition_state(self, topic: str, index: int) -> PartitionState | None:
        info = self.topics.get(topic)
        if info is None or not 0 <= index < info.num_partitions:
            return None
        return self.topics.state(topic, index) or _NO_LEADER

    def partition_states(self, info: TopicInfo) -> list[PartitionState]:
        parts = self.topics.states.get(info.name, {})
        return [parts.get(i, _NO_LEADER) for i in range(info.num_partitions)]

    def alive_brokers(self, listener: str | None = None) -> list[Node]:
        """The live brokers with their endpoint on ``listener``; one that does not advertise it
        is left out, as Kafka does."""
        brokers = (self.topics.brokers[i].on(listener) for i in sorted(self.topics.brokers))
        return [n for n in brokers if n is not None]

    def alive_broker(self, broker_id: int) -> Node | None:
        return self.topics.brokers.get(broker_id)

    @property
    def controller_id(self) -> int:
        return self.topics.controller_id

    def update(self, topics) -> None:
        super().update(topics)
        self.changed()

    def changed(self) -> None:
        """The cache moved: wake every waiter (each checks its own condition again)."""
        self.generation += 1
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        for listener in self.listeners:
            listener()

    async def wait_for(self, condition, timeout: float) -> bool:
        """Wait until ``condition()`` holds (checked now and after each change), at most
        ``timeout`` seconds; whether it held."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            left = deadline - loop.time()
            if left <= 0:
                return False
            fut = loop.create_future()
            self._waiters.append(fut)
            try:
                await asyncio.wait_for(fut, left)
            except asyncio.TimeoutError:
                return bool(condition())
        return True
