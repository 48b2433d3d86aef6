"""Integration tests: real Kafka clients against a real hpbroker.

``broker`` is one in-process hpbroker per test module (set HPBROKER_TEST_SUBPROCESS=1 to run it
as a separate process, HPBROKER_TEST_MODE=multiproc to run it as a supervisor with 2 processor
and 2 handler processes). Tests that restart or kill a broker start their own subprocess broker.
"""

import itertools
import uuid

import pytest

from hpbroker import environment
from hpbroker.testing import running_broker

pytestmark = pytest.mark.integration

_counter = itertools.count()


MULTIPROC_ARGS = ["--processors", "2", "--handlers", "2"]


def multiproc() -> bool:
    """HPBROKER_TEST_MODE=multiproc: every broker of the suite runs the multi-process topology."""
    return environment.value("HPBROKER_TEST_MODE") == "multiproc"


def mode_args() -> list[str]:
    """Command-line arguments of the topology under test (for tests starting their own broker)."""
    return list(MULTIPROC_ARGS) if multiproc() else []


def mode_broker(*, subprocess: bool = False, args=(), **kwargs):
    """running_broker in the topology under test: tests that need their own broker (own configs,
    own data dir) use this so they too run in every mode of the suite."""
    sub = subprocess or multiproc() or environment.flag("HPBROKER_TEST_SUBPROCESS")
    return running_broker(subprocess=sub, args=mode_args() + list(args), **kwargs)


@pytest.fixture(scope="module")
def broker():
    with mode_broker() as b:
        yield b


@pytest.fixture(scope="module")
def bootstrap(broker):
    return broker.bootstrap


@pytest.fixture
def topic_name(request):
    return f"t-{request.node.name[:40].replace('[', '-').replace(']', '')}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


def create_topic(bootstrap, name, partitions=1, config=None):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})], operation_timeout=10
    )
    for f in fs.values():
        f.result(timeout=15)
    return name


def confluent_consume_all(bootstrap, topic, partitions, expected, timeout=20.0, extra=None):
    """Assign every partition from the beginning and read ``expected`` messages."""
    import time

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": f"g-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }
    conf.update(extra or {})
    c = Consumer(conf)
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise AssertionError(f"consume error: {m.error()}")
            out.append(m)
    finally:
        c.close()
    return out
