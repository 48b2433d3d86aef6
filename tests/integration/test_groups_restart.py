"""Commit, restart the broker, resume: the group's next consumer gets exactly the records after
the committed offsets -- no duplicates, no gaps -- with each client library."""

import time

import pytest

from hpbroker.admin.groups import describe_group
from tests.integration.conftest import mode_broker

from .conftest import create_topic
from .groupclients import (
    GROUP_BROKER_CONFIG,
    aiokafka_consumer,
    confluent_consumer,
    group_id,
    kafka_python_consumer,
    produce,
    run_async,
    wait_until,
)

pytestmark = pytest.mark.integration

PARTITIONS = 2
PER_PARTITION = 10
PROCESSED = 7  # records "processed" (and committed) before the restart


# Each client: consume(bootstrap, topic, group, n, commit) -> list of (partition, offset) received,
# committing positions after the first ``commit`` records when commit is not None.
def _confluent(bootstrap, topic, group, n, commit, timeout=30):
    from confluent_kafka import TopicPartition

    c = confluent_consumer(bootstrap, group)
    got = []
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(0.1)
            if m is not None and not m.error():
                got.append((m.partition(), m.offset()))
        _drain_extra(lambda: [(m.partition(), m.offset()) for m in [c.poll(0.1)] if m and not m.error()], got)
        if commit is not None:
            positions = _positions(got[:commit])
            c.commit(offsets=[TopicPartition(topic, p, o) for p, o in positions.items()], asynchronous=False)
    finally:
        c.close()
    return got


def _kafka_python(bootstrap, topic, group, n, commit, timeout=30):
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    c = kafka_python_consumer(bootstrap, group)
    got = []
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=100).values():
                got.extend((r.partition, r.offset) for r in recs)

        def more():
            return [(r.partition, r.offset) for recs in c.poll(timeout_ms=100).values() for r in recs]

        _drain_extra(more, got)
        if commit is not None:
            c.commit(
                {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in _positions(got[:commit]).items()}
            )
    finally:
        c.close()
    return got


def _aiokafka(bootstrap, topic, group, n, commit, timeout=30):
    from aiokafka import TopicPartition

    async def main():
        c = aiokafka_consumer(bootstrap, group)
        await c.start()
        got = []
        try:
            c.subscribe([topic])
            deadline = time.monotonic() + timeout
            while len(got) < n and time.monotonic() < deadline:
                for recs in (await c.getmany(timeout_ms=100)).values():
                    got.extend((r.partition, r.offset) for r in recs)
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                for recs in (await c.getmany(timeout_ms=100)).values():
                    got.extend((r.partition, r.offset) for r in recs)
            if commit is not None:
                await c.commit({TopicPartition(topic, p): o for p, o in _positions(got[:commit]).items()})
        finally:
            await c.stop()
        return got

    return run_async(main(), timeout + 30)


def _drain_extra(poll_once, got, seconds=0.5):
    """Keep polling a little: a duplicate would show up here."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got.extend(poll_once())


def _positions(processed):
    """partition -> next offset to consume after the processed records."""
    out = {}
    for p, o in processed:
        out[p] = max(out.get(p, 0), o + 1)
    return out


CLIENTS = {"confluent": _confluent, "kafka-python": _kafka_python, "aiokafka": _aiokafka}


@pytest.mark.parametrize("client", list(CLIENTS))
def test_commit_restart_resume_exactly_the_uncommitted_records(tmp_path, client):
    consume = CLIENTS[client]
    data_dir = str(tmp_path / "data")
    topic = f"resume-{client}"
    group = group_id()
    with mode_broker(subprocess=True, data_dir=data_dir, config=GROUP_BROKER_CONFIG) as b:
        create_topic(b.bootstrap, topic, PARTITIONS)
        produce(b.bootstrap, topic, PARTITIONS, PER_PARTITION)
        first = consume(b.bootstrap, topic, group, PROCESSED, PROCESSED)
        assert len(first) >= PROCESSED
        # clients send LeaveGroup on close without waiting for the answer: let it land before
        # the restart, or the next consumer waits for the old member's session to expire
        assert wait_until(lambda: describe_group(b.bootstrap, group).state == "Empty", 10)
    committed = _positions(first[:PROCESSED])
    with mode_broker(subprocess=True, data_dir=data_dir, config=GROUP_BROKER_CONFIG) as b:
        produce(b.bootstrap, topic, PARTITIONS, 3, start=PER_PARTITION)  # offsets 10-12 of each partition
        end = PER_PARTITION + 3
        expected = sorted((p, o) for p in range(PARTITIONS) for o in range(committed.get(p, 0), end))
        second = consume(b.bootstrap, topic, group, len(expected), None)
    assert len(second) == len(set(second)), "duplicates after resuming"
    assert sorted(second) == expected


def test_offsets_log_compacted_by_the_coordinator_survives_a_restart(tmp_path):
    """1,200 commits of one group through confluent-kafka: the coordinator compacts its
    __consumer_offsets partition (the log start moves past them, ListOffsets shows it) and after
    a restart the group's offsets are the last ones committed."""
    from confluent_kafka import Consumer, TopicPartition

    from hpbroker.coordinator.records import partition_for

    from .rawclient import RawClient

    data_dir = str(tmp_path / "data")
    group, topic = group_id(), "compacted"
    partition = partition_for(group, int(GROUP_BROKER_CONFIG["offsets.topic.num.partitions"]))

    def earliest(raw):
        r = raw.request(
            2,
            5,
            {
                "replica_id": -1,
                "isolation_level": 0,
                "topics": [
                    {
                        "name": "__consumer_offsets",
                        "partitions": [{"partition_index": partition, "current_leader_epoch": -1, "timestamp": -2}],
                    }
                ],
            },
        )
        return r["topics"][0]["partitions"][0]["offset"]

    def consumer(bootstrap):
        return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})

    with mode_broker(subprocess=True, data_dir=data_dir, config=GROUP_BROKER_CONFIG) as b:
        create_topic(b.bootstrap, topic, PARTITIONS)
        c = consumer(b.bootstrap)
        try:
            for i in range(1200):  # simple commits: no subscription, one offset each
                c.commit(offsets=[TopicPartition(topic, i % 2, i)], asynchronous=False)
        finally:
            c.close()
        with RawClient(b.bootstrap) as raw:
            assert wait_until(lambda: earliest(raw) >= 1000, 10), earliest(raw)
    with mode_broker(subprocess=True, data_dir=data_dir, config=GROUP_BROKER_CONFIG) as b:
        c = consumer(b.bootstrap)
        try:
            got = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
        finally:
            c.close()
        assert [tp.offset for tp in got] == [1198, 1199]
