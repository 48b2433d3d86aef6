"""Every topology's broker implements the declared interface (hpbroker/broker/interface.py):
the in-process broker, a handler process's (handler 0, the controller, and another) and a
processor's, each with every part, and every controller call a coroutine."""

import asyncio
import inspect

import pytest

from hpbroker.broker.interface import Broker, Controller, Node, ReadablePartition, ReplicaManager
from hpbroker.broker.local import LocalBroker
from hpbroker.config import BrokerConfig
from hpbroker.coordinator.coordinator import GroupCoordinator
from hpbroker.metadata.topics import TopicRegistry
from hpbroker.server.multiproc import topology
from hpbroker.server.multiproc.handler_broker import HandlerBroker
from hpbroker.server.multiproc.processor_broker import ProcessorBroker
from hpbroker.server.multiproc.routing import owner

NODE = Node(0, "localhost", 9092)
CONTROLLER_CALLS = [name for name, _ in inspect.getmembers(Controller, inspect.isfunction) if not name.startswith("_")]


@pytest.fixture
def topo():
    t = topology.Topology(1, 2, request_ring_bytes=1 << 16, response_ring_bytes=1 << 16, slots_per_handler=16)
    yield t
    t.unlink()


def _brokers(tmp_path, topo):
    config = lambda: BrokerConfig({"log.dirs": str(tmp_path)})  # noqa: E731 (each its own, as each process)
    local = LocalBroker(config(), NODE)
    topo.publish_registry(TopicRegistry(tmp_path / "__topics.json"))
    handlers = [
        HandlerBroker(
            config(),
            NODE,
            handler=h,
            table=topo.table(),
            owns=lambda t, p, h=h: owner(t, p, 2) == h,
            read_registry=topo.read_registry,
        )
        for h in (0, 1)
    ]

    async def ask(api_key, version, body):  # the processor's channel to handler 0
        raise AssertionError("not asked here")

    processor = ProcessorBroker(config(), NODE, topo, ask)
    return [local, *handlers, processor]


def test_every_topology_implements_the_broker_interface(tmp_path, topo):
    brokers = _brokers(tmp_path, topo)
    try:
        assert CONTROLLER_CALLS == [
            "add_partitions",
            "create_topic",
            "delete_topic",
            "next_producer_id",
            "security_changed",
            "set_broker_configs",
            "set_topic_configs",
        ]
        for b in brokers:
            assert isinstance(b, Broker), type(b)
            assert isinstance(b.replica_manager, ReplicaManager), type(b.replica_manager)
            assert isinstance(b.controller, Controller), type(b.controller)
            assert isinstance(b.group_coordinator, GroupCoordinator)
            for name in CONTROLLER_CALLS:
                assert inspect.iscoroutinefunction(getattr(b.controller, name)), (type(b.controller), name)
        assert [type(b.controller).__name__ for b in brokers] == [
            "LocalController",
            "LocalController",
            "NotController",
            "ForwardingController",
        ]
    finally:
        for b in brokers:
            b.close()


def test_what_each_replica_manager_holds(tmp_path, topo):
    """The controller's broker creates a topic; a handler applies the published registry and
    holds its own partitions (published in the partition table); the processor reads them
    there and writes none."""
    brokers = _brokers(tmp_path, topo)
    local, h0, h1, processor = brokers
    try:
        asyncio.run(local.controller.create_topic("t", 4, {}))
        assert local.replica_manager.partition("t", 3) is local.replica_manager.readable("t", 3)
        topo.publish_registry(local.metadata.topics)
        topo.bump_metadata_generation()
        h1.sync_topics()
        mine = sorted(p for (t, p) in h1.replica_manager.partitions)
        assert mine == [p for p in range(4) if owner("t", p, 2) == 1] and mine
        processor.refresh()
        readable = processor.replica_manager.readable("t", mine[0])
        assert isinstance(readable, ReadablePartition) and readable.high_watermark == 0
        assert processor.replica_manager.partition("t", mine[0]) is None  # a processor writes no partition
        assert processor.replica_manager.readable("t", 9) is None
    finally:
        for b in brokers:
            b.close()


def test_every_process_follows_both_dynamic_broker_layers(tmp_path, topo):
    """The controller stores this broker's dynamic configs and the cluster-wide ones (resource
    ""); a handler and a processor take both from the published registry."""
    brokers = _brokers(tmp_path, topo)
    local, h0, h1, processor = brokers
    try:
        asyncio.run(local.controller.set_broker_configs({"log.retention.ms": "7000"}))
        cluster = {"log.retention.ms": "9000", "message.max.bytes": "5000"}
        asyncio.run(local.controller.set_broker_configs(cluster, cluster_default=True))
        topo.publish_registry(local.metadata.topics)
        topo.bump_metadata_generation()
        h1.sync_topics()
        processor.refresh()
        for b in (local, h1, processor):
            assert (b.config.dynamic, b.config.dynamic_default) == ({"log.retention.ms": "7000"}, cluster), type(
                b
            ).__name__
            assert (b.config.get("log.retention.ms"), b.config.get("message.max.bytes")) == (7000, 5000)
    finally:
        for b in brokers:
            b.close()
