"""A process that owns a __consumer_offsets partition whose log it has not opened yet (a handler
applying the topic's creation while the disk refuses its files): its coordinator comes up
without that shard, the shard's groups find no coordinator here (the handlers answer
NOT_COORDINATOR, as Kafka does for an offline coordinator partition), and the shard is loaded,
with what its log holds, on the first request after the log opens."""

import asyncio
import time

from hpbroker.config import BrokerConfig
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.coordinator.records import OffsetCommitKey, OffsetCommitValue

from .brokers import another_coordinator, started


def _group_on(gc, partition):
    return next(g for g in (f"g{i}" for i in range(1000)) if gc.partition_for(g) == partition)


def test_a_shard_whose_log_is_not_open_is_loaded_once_it_is(tmp_path):
    async def main():
        cfg = BrokerConfig({"log.dirs": str(tmp_path), "offsets.topic.num.partitions": "2"})
        broker, gc = await started(cfg, [("t", 1)])  # creates __consumer_offsets: both logs open
        group = _group_on(gc, 1)
        ts = int(time.time() * 1000)
        gc.write(gc.shard_for(group), [(OffsetCommitKey(group, "t", 0), OffsetCommitValue(5, -1, "", ts))])

        key = (GROUP_METADATA_TOPIC, 1)
        partitions = broker.replica_manager.partitions
        partition = partitions.pop(key)  # this process has not opened partition 1
        later = await another_coordinator(broker)
        assert later.unloaded == {1} and set(later.shards) == {0}
        assert later.shard_for(group) is None  # no coordinator here for now, and no exception
        assert later.shard_for(_group_on(gc, 0)) is not None

        partitions[key] = partition  # the retry opened it
        shard = later.shard_for(group)
        assert shard is not None and later.unloaded == set() and later.shards[1] is shard
        assert [v.offset for v in shard.offsets[group].values()] == [5]  # replayed from its log
        broker.close()

    asyncio.run(main())


def test_list_groups_says_load_in_progress_while_a_shard_is_not_loaded(tmp_path):
    """ListGroups lists the groups of the loaded shards and answers COORDINATOR_LOAD_IN_PROGRESS
    while an owned shard is not (Kafka's answer while it loads a coordinator partition), then
    loads the shard once its log is open and lists its groups too, with no error."""
    from hpbroker.protocol.errors import ErrorCode
    from tests.handlers.harness import BrokerHarness

    h = BrokerHarness(tmp_path, {"offsets.topic.num.partitions": "2"})
    h.create_topic("t", 1)
    gc = h.broker.group_coordinator
    assert h.run(gc.start())
    g0, g1 = _group_on(gc, 0), _group_on(gc, 1)
    ts = int(time.time() * 1000)
    for g in (g0, g1):  # a group with committed offsets, on each shard
        gc.write(gc.shard_for(g), [(OffsetCommitKey(g, "t", 0), OffsetCommitValue(1, -1, "", ts))])
    key = (GROUP_METADATA_TOPIC, 1)
    partitions = h.broker.replica_manager.partitions
    partition = partitions.pop(key)  # this process has not opened partition 1
    h.broker.group_coordinator = later = h.run(another_coordinator(h.broker))
    try:
        r = h.request(16, 4, {"states_filter": []})
        assert r["error_code"] == ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
        assert [g["group_id"] for g in r["groups"]] == [g0]
        r = h.request(16, 5, {"states_filter": [], "types_filter": ["consumer"]})
        assert (r["error_code"], r["groups"]) == (ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, [])

        partitions[key] = partition  # the retry opened it
        r = h.request(16, 4, {"states_filter": []})
        assert r["error_code"] == 0 and later.unloaded == set()
        assert sorted(g["group_id"] for g in r["groups"]) == sorted([g0, g1])  # replayed from its log
    finally:
        h.close()
