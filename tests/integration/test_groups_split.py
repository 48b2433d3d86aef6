"""Two and three group members of each client library split a topic's partitions: no overlap,
full coverage, every record delivered (librdkafka: range, roundrobin, cooperative-sticky)."""

import asyncio
import time

import pytest

from tests.integration.conftest import mode_broker

from .conftest import create_topic
from .groupclients import (
    GROUP_BROKER_CONFIG,
    ThreadedMember,
    aiokafka_consumer,
    close_all,
    confluent_consumer,
    group_id,
    is_clean_split,
    kafka_python_consumer,
    produce,
    run_async,
    wait_until,
)

pytestmark = pytest.mark.integration

PARTITIONS = 6
PER_PARTITION = 5
TOTAL = PARTITIONS * PER_PARTITION


@pytest.fixture(scope="module")
def gbroker():
    with mode_broker(config=GROUP_BROKER_CONFIG) as b:
        yield b


@pytest.fixture
def loaded_topic(gbroker, topic_name):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    produce(gbroker.bootstrap, topic_name, PARTITIONS, PER_PARTITION)
    return topic_name


@pytest.mark.parametrize("members", [2, 3])
@pytest.mark.parametrize("assignor", ["range", "roundrobin", "cooperative-sticky"])
def test_confluent_members_split_partitions(gbroker, loaded_topic, members, assignor):
    group = group_id()
    consumers = [
        confluent_consumer(gbroker.bootstrap, group, **{"partition.assignment.strategy": assignor})
        for _ in range(members)
    ]
    seen = set()
    try:
        for c in consumers:
            c.subscribe([loaded_topic])
        deadline = time.monotonic() + 30
        split = False
        while time.monotonic() < deadline:
            for c in consumers:
                m = c.poll(0.05)
                if m is not None and not m.error():
                    seen.add((m.partition(), m.offset()))
            owned = [{tp.partition for tp in c.assignment()} for c in consumers]
            split = is_clean_split(owned, PARTITIONS)
            if split and len(seen) == TOTAL:
                break
        assert split, f"assignments {owned}"
        assert len(seen) == TOTAL
    finally:
        close_all(consumers)


@pytest.mark.parametrize("members", [2, 3])
def test_kafka_python_members_split_partitions(gbroker, loaded_topic, members):
    group = group_id()
    ms = [ThreadedMember(lambda: kafka_python_consumer(gbroker.bootstrap, group), loaded_topic) for _ in range(members)]
    try:

        def done():
            seen = {r for m in ms for r in list(m.records)}
            return is_clean_split([set(m.assignment) for m in ms], PARTITIONS) and len(seen) == TOTAL

        assert wait_until(done, 40), [m.assignment for m in ms]
    finally:
        for m in ms:
            m.stop()


@pytest.mark.parametrize("members", [2, 3])
def test_aiokafka_members_split_partitions(gbroker, loaded_topic, members):
    group = group_id()

    async def main():
        consumers = [aiokafka_consumer(gbroker.bootstrap, group) for _ in range(members)]
        seen = set()
        stop = asyncio.Event()

        async def run(c):
            await c.start()
            c.subscribe([loaded_topic])
            while not stop.is_set():
                batch = await c.getmany(timeout_ms=100)
                for recs in batch.values():
                    seen.update((r.partition, r.offset) for r in recs)

        tasks = [asyncio.create_task(run(c)) for c in consumers]
        try:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                owned = [{tp.partition for tp in c.assignment()} for c in consumers]
                if is_clean_split(owned, PARTITIONS) and len(seen) == TOTAL:
                    break
                for t in tasks:
                    if t.done():
                        t.result()
                await asyncio.sleep(0.05)
            assert is_clean_split(owned, PARTITIONS), owned
            assert len(seen) == TOTAL
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for c in consumers:
                await c.stop()

    run_async(main())
