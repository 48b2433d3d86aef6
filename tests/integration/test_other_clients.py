"""kafka-python, aiokafka and kcat against hpbroker, including batches librdkafka compressed."""

import asyncio
import shutil
import subprocess

import pytest
from confluent_kafka import Producer

from tests.integration.conftest import confluent_consume_all, create_topic

pytestmark = pytest.mark.integration


def test_kafka_python_default_producer_and_assign_consumer(bootstrap, topic_name):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    create_topic(bootstrap, topic_name, partitions=2)
    p = KafkaProducer(bootstrap_servers=bootstrap)  # idempotent, acks=all by default
    futures = [p.send(topic_name, key=b"k%d" % (i % 3), value=b"v%d" % i, headers=[("h", b"1")]) for i in range(50)]
    metas = [f.get(timeout=15) for f in futures]
    p.close()
    assert all(m.offset >= 0 for m in metas)
    c = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    c.assign([TopicPartition(topic_name, 0), TopicPartition(topic_name, 1)])
    got = []
    for m in c:  # until all 50 are read; consumer_timeout_ms ends it if some never come
        got.append(m)
        if len(got) == 50:
            break
    c.close()
    assert sorted(m.value for m in got) == sorted(b"v%d" % i for i in range(50))
    assert all(m.headers == [("h", b"1")] for m in got)
    # kafka-python's records are readable by librdkafka too
    assert len(confluent_consume_all(bootstrap, topic_name, 2, 50)) == 50


def test_aiokafka_default_producer_and_assign_consumer(bootstrap, topic_name):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    create_topic(bootstrap, topic_name)

    async def run():
        p = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await p.start()
        try:
            for i in range(30):
                await p.send_and_wait(topic_name, value=b"a%d" % i, key=b"k")
        finally:
            await p.stop()
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
        await c.start()
        try:
            c.assign([TopicPartition(topic_name, 0)])
            await c.seek_to_beginning()
            out = []
            while len(out) < 30:
                batch = await c.getmany(timeout_ms=5000)
                if not batch:
                    break
                for msgs in batch.values():
                    out.extend(m.value for m in msgs)
            return out
        finally:
            await c.stop()

    assert asyncio.run(run()) == [b"a%d" % i for i in range(30)]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_librdkafka_compressed_read_by_python_clients(bootstrap, topic_name, codec):
    from aiokafka import AIOKafkaConsumer
    from aiokafka import TopicPartition as ATP
    from kafka import KafkaConsumer, TopicPartition

    create_topic(bootstrap, topic_name)
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 20})
    values = [(b"%s-%d " % (codec.encode(), i)) * 10 for i in range(100)]
    for v in values:
        p.produce(topic_name, value=v)
    assert p.flush(20) == 0

    c = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    c.assign([TopicPartition(topic_name, 0)])
    got = []
    for m in c:  # until all are read; consumer_timeout_ms ends it if some never come
        got.append(m.value)
        if len(got) == len(values):
            break
    c.close()
    assert got == values

    async def aio():
        ac = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
        await ac.start()
        try:
            ac.assign([ATP(topic_name, 0)])
            out = []
            while len(out) < len(values):
                batch = await ac.getmany(timeout_ms=5000)
                if not batch:
                    break
                for msgs in batch.values():
                    out.extend(m.value for m in msgs)
            return out
        finally:
            await ac.stop()

    assert asyncio.run(aio()) == values


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat not installed (.ci/run installs it)")
def test_kcat_list_produce_consume(bootstrap, topic_name):
    create_topic(bootstrap, topic_name)
    out = subprocess.run(["kcat", "-b", bootstrap, "-L"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert f'topic "{topic_name}"' in out.stdout
    lines = "\n".join(f"line-{i}" for i in range(20)) + "\n"
    prod = subprocess.run(
        ["kcat", "-b", bootstrap, "-P", "-t", topic_name], input=lines, capture_output=True, text=True, timeout=30
    )
    assert prod.returncode == 0, prod.stderr
    cons = subprocess.run(
        ["kcat", "-b", bootstrap, "-C", "-t", topic_name, "-o", "beginning", "-e"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cons.returncode == 0, cons.stderr
    assert cons.stdout.split() == [f"line-{i}" for i in range(20)]
