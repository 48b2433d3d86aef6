"""Transactions with real clients: confluent-kafka's and kafka-python's transactional producers
commit and abort, read_committed consumers see only committed records (read_uncommitted ones see
everything), a zombie with an old epoch is fenced, a producer that dies mid-transaction has its
transaction aborted at its timeout, and offsets sent in a transaction are visible at commit."""

import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from hpbroker.testing import wait_until
from tests.integration.conftest import create_topic, mode_broker

pytestmark = pytest.mark.integration

CONFIG = {
    "transaction.state.log.num.partitions": "3",
    "offsets.topic.num.partitions": "3",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "200",
    "group.initial.rebalance.delay.ms": "0",
}


@pytest.fixture(scope="module")
def tbroker():
    with mode_broker(config=CONFIG) as b:
        yield b


def _producer(bootstrap, txn_id, **extra):
    conf = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5}
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(30)
    return p


def _read(bootstrap, topic, partitions, isolation, until_offsets, timeout=30.0):
    """Values read from the start of every partition until each reaches ``until_offsets``."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "r-" + uuid.uuid4().hex[:8],
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out = []
    done = set()

    def step():
        m = c.poll(0.2)
        if m is not None:
            if m.error() is not None:
                if m.error().code() == KafkaError._PARTITION_EOF and m.offset() >= until_offsets[m.partition()]:
                    done.add(m.partition())
            else:
                out.append(m.value())
        return len(done) == partitions

    try:
        wait_until(step, timeout, f"reading {topic} at {isolation}", interval=0)
    finally:
        c.close()
    return out


def _end_offsets(bootstrap, topic, partitions):
    c = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "w-" + uuid.uuid4().hex[:8], "isolation.level": "read_uncommitted"}
    )
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)]
    finally:
        c.close()


def test_commit_and_abort_seen_by_read_committed_and_read_uncommitted(tbroker, topic_name):
    bootstrap = tbroker.bootstrap
    create_topic(bootstrap, topic_name, partitions=2)
    p = _producer(bootstrap, "tx-" + topic_name)
    p.begin_transaction()
    for i in range(10):
        p.produce(topic_name, f"c1-{i}".encode(), partition=i % 2)
    p.commit_transaction(30)
    p.begin_transaction()
    for i in range(10):
        p.produce(topic_name, f"a-{i}".encode(), partition=i % 2)
    p.flush(10)  # sent before the abort (librdkafka drops what is still queued)
    p.abort_transaction(30)
    p.begin_transaction()
    for i in range(6):
        p.produce(topic_name, f"c2-{i}".encode(), partition=i % 2)
    p.commit_transaction(30)
    # 13 records and 3 markers in each partition (the last marker may still be on its way)
    ends = wait_until(lambda: (e := _end_offsets(bootstrap, topic_name, 2)) == [16, 16] and e, 10, "markers")
    committed = _read(bootstrap, topic_name, 2, "read_committed", ends)
    assert sorted(committed) == sorted([f"c1-{i}".encode() for i in range(10)] + [f"c2-{i}".encode() for i in range(6)])
    everything = _read(bootstrap, topic_name, 2, "read_uncommitted", ends)
    assert len(everything) == 26


def _open_transaction_starts(bootstrap, topic):
    """DescribeProducers (kafka-python): the start offset of each producer's open transaction."""
    from kafka import KafkaAdminClient
    from kafka import TopicPartition as KTopicPartition

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        got = admin.describe_producers([KTopicPartition(topic, 0)])
    finally:
        admin.close()
    return [p.current_transaction_start_offset for s in got.values() for p in s.active_producers]


def test_an_open_transaction_holds_read_committed_consumers(tbroker, topic_name):
    bootstrap = tbroker.bootstrap
    create_topic(bootstrap, topic_name)
    plain = Producer({"bootstrap.servers": bootstrap})
    plain.produce(topic_name, b"before")
    plain.flush(10)
    p = _producer(bootstrap, "tx-" + topic_name)
    p.begin_transaction()
    p.produce(topic_name, b"inside")
    p.flush(10)
    plain.produce(topic_name, b"after")
    plain.flush(10)
    # the LSO holds at the open transaction: "after" is not visible yet
    assert _read(bootstrap, topic_name, 1, "read_committed", [1]) == [b"before"]
    assert _open_transaction_starts(bootstrap, topic_name) == [1]
    p.commit_transaction(30)
    ends = wait_until(lambda: (e := _end_offsets(bootstrap, topic_name, 1)) == [4] and e, 10, "the marker")
    assert _read(bootstrap, topic_name, 1, "read_committed", ends) == [b"before", b"inside", b"after"]


def test_a_zombie_is_fenced_by_a_new_producer_with_the_same_id(tbroker, topic_name):
    bootstrap = tbroker.bootstrap
    create_topic(bootstrap, topic_name)
    txn_id = "tx-" + topic_name
    zombie = _producer(bootstrap, txn_id)
    zombie.begin_transaction()
    zombie.produce(topic_name, b"zombie")
    zombie.flush(10)
    fresh = _producer(bootstrap, txn_id)  # aborts the zombie's transaction, bumps the epoch
    fresh.begin_transaction()
    fresh.produce(topic_name, b"fresh")
    fresh.commit_transaction(30)
    with pytest.raises(KafkaException) as info:
        zombie.commit_transaction(30)
    assert info.value.args[0].fatal() or info.value.args[0].code() in (
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
    )
    # zombie, its abort marker, fresh, its commit marker
    ends = wait_until(lambda: (e := _end_offsets(bootstrap, topic_name, 1)) == [4] and e, 10, "the markers")
    assert _read(bootstrap, topic_name, 1, "read_committed", ends) == [b"fresh"]


def test_an_abandoned_transaction_is_aborted_at_its_timeout(tbroker, topic_name):
    bootstrap = tbroker.bootstrap
    create_topic(bootstrap, topic_name)
    p = _producer(bootstrap, "tx-" + topic_name, **{"transaction.timeout.ms": 2000})
    p.begin_transaction()
    p.produce(topic_name, b"lost")
    p.flush(10)
    del p  # never committed: the coordinator aborts it once it is 2 s old
    plain = Producer({"bootstrap.servers": bootstrap})
    plain.produce(topic_name, b"later")
    plain.flush(10)

    wait_until(lambda: _end_offsets(bootstrap, topic_name, 1)[0] == 3, 20, "the abort marker")
    assert _read(bootstrap, topic_name, 1, "read_committed", [3]) == [b"later"]


def test_offsets_sent_in_a_transaction_are_committed_with_it(tbroker, topic_name):
    bootstrap = tbroker.bootstrap
    create_topic(bootstrap, topic_name)
    group = "g-" + topic_name
    p = _producer(bootstrap, "tx-" + topic_name)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        metadata = c.consumer_group_metadata()
        p.begin_transaction()
        p.produce(topic_name, b"x")
        p.flush(10)
        p.send_offsets_to_transaction([TopicPartition(topic_name, 0, 5)], metadata, 30)
        p.abort_transaction(30)
        assert c.committed([TopicPartition(topic_name, 0)], timeout=10)[0].offset < 0
        p.begin_transaction()
        p.produce(topic_name, b"y")
        p.send_offsets_to_transaction([TopicPartition(topic_name, 0, 7)], metadata, 30)
        p.commit_transaction(30)
        wait_until(
            lambda: c.committed([TopicPartition(topic_name, 0)], timeout=10)[0].offset == 7, 10, "committed offset 7"
        )
    finally:
        c.close()


def test_kafka_python_transactional_producer(tbroker, topic_name):
    from kafka import KafkaConsumer, KafkaProducer

    bootstrap = tbroker.bootstrap
    create_topic(bootstrap, topic_name)
    p = KafkaProducer(bootstrap_servers=bootstrap, transactional_id="kp-" + topic_name)
    try:
        p.init_transactions()
        p.begin_transaction()
        p.send(topic_name, b"kp-aborted")
        p.flush()
        p.abort_transaction()
        p.begin_transaction()
        p.send(topic_name, b"kp-committed")
        p.commit_transaction()
    finally:
        p.close()
    wait_until(lambda: _end_offsets(bootstrap, topic_name, 1) == [4], 10, "the markers")
    c = KafkaConsumer(
        topic_name,
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    try:
        assert [m.value for m in c] == [b"kp-committed"]
    finally:
        c.close()


def test_aiokafka_transactional_producer(tbroker, topic_name):
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    bootstrap = tbroker.bootstrap
    create_topic(bootstrap, topic_name)

    async def run():
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="ak-" + topic_name)
        await p.start()
        try:
            async with p.transaction():
                await p.send_and_wait(topic_name, b"ak-committed")
            with pytest.raises(RuntimeError):
                async with p.transaction():
                    await p.send_and_wait(topic_name, b"ak-aborted")
                    raise RuntimeError("abort it")
        finally:
            await p.stop()
        c = AIOKafkaConsumer(
            topic_name, bootstrap_servers=bootstrap, isolation_level="read_committed", auto_offset_reset="earliest"
        )
        await c.start()
        try:
            got = []
            deadline = asyncio.get_running_loop().time() + 20
            while asyncio.get_running_loop().time() < deadline:
                batch = await c.getmany(timeout_ms=200)
                got += [m.value for msgs in batch.values() for m in msgs]
                if await c.position(next(iter(c.assignment()))) >= 4:
                    break
            return got
        finally:
            await c.stop()

    assert asyncio.run(run()) == [b"ak-committed"]


def test_consume_transform_produce_exactly_once_through_sigkills(tbroker, topic_name):
    """The loop is killed with SIGKILL three times mid-stream and restarted; a read_committed
    consumer of the output finds every input record's output once, in order per partition."""
    import os
    import signal
    import subprocess
    import sys

    bootstrap = tbroker.bootstrap
    source, sink = topic_name + "-in", topic_name + "-out"
    create_topic(bootstrap, source, partitions=2)
    create_topic(bootstrap, sink, partitions=2)
    n = 400
    plain = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(n):
        plain.produce(source, f"p{i % 2}-{i}".encode(), partition=i % 2)
    assert plain.flush(15) == 0
    loop = [
        sys.executable,
        os.path.join(os.path.dirname(__file__), "txn_loop.py"),
        bootstrap,
        source,
        sink,
        "g-" + topic_name,
        "loop-" + topic_name,
    ]
    written = 0
    for kill in range(4):
        proc = subprocess.Popen(loop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if kill < 3:  # kill it once the output moved on (committed or not)
                target = written + 40
                written = wait_until(
                    lambda t=target: (w := sum(_end_offsets(bootstrap, sink, 2))) >= t and w, 60, "output"
                )
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            else:
                expected = {p: [f"p{p}-{i}-out".encode() for i in range(p, n, 2)] for p in range(2)}

                def complete():
                    ends = _end_offsets(bootstrap, sink, 2)
                    got = _read(bootstrap, sink, 2, "read_committed", ends)
                    return len(got) >= n and got

                wait_until(complete, 90, "every output record")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    ends = _end_offsets(bootstrap, sink, 2)
    per_partition = {}
    for p in range(2):
        c = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "check-" + uuid.uuid4().hex[:6],
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
        c.assign([TopicPartition(sink, p, OFFSET_BEGINNING)])
        values = []

        def step(c=c, values=values, p=p):
            m = c.poll(0.2)
            if m is None:
                return False
            if m.error() is not None:
                return m.error().code() == KafkaError._PARTITION_EOF and m.offset() >= ends[p]
            values.append(m.value())
            return False

        try:
            wait_until(step, 30, f"output partition {p}", interval=0)
        finally:
            c.close()
        per_partition[p] = values
    assert per_partition == expected
