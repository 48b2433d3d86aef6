"""A real LocalBroker for coordinator tests, its group coordinator started (as the first group
request starts it), and a second coordinator over the same broker (a process that comes up
again over partitions in a given state)."""

from __future__ import annotations

from hpbroker.broker.interface import Node
from hpbroker.broker.local import LocalBroker
from hpbroker.coordinator.coordinator import GroupCoordinator

NODE = Node(0, "localhost", 9092)


async def started(cfg, topics=()) -> tuple[LocalBroker, GroupCoordinator]:
    """A broker over ``cfg``'s log dirs, with ``topics`` [(name, partitions)] created if missing,
    and its group coordinator started (__consumer_offsets created if missing)."""
    broker = LocalBroker(cfg, NODE)
    for name, partitions in topics:
        if name not in broker.metadata.topics:
            await broker.controller.create_topic(name, partitions, {})
    assert await broker.group_coordinator.start()
    return broker, broker.group_coordinator


async def another_coordinator(broker: LocalBroker) -> GroupCoordinator:
    gc = GroupCoordinator(broker.config, broker.metadata, broker.replica_manager, broker.controller)
    assert await gc.start()
    return gc
