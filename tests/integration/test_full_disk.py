"""A disk that refuses writes, against a real broker process and a real producer: the broker's
writers run under a lowered RLIMIT_FSIZE (a write past it fails with EFBIG, the same OSError path
as ENOSPC; Python ignores SIGXFSZ), so Produce gets the retriable KAFKA_STORAGE_ERROR and the
broker keeps serving reads; once the limit is raised again the producer's retries land, and
every record is read back exactly once, in order. Both broker modes."""

import resource
import time

import psutil
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.integration.conftest import MULTIPROC_ARGS, create_topic, mode_broker, multiproc

pytestmark = pytest.mark.integration

BEFORE, DURING = 200, 1300  # records of ~1 KB; the file limit is hit after ~800 of DURING


def _writers(broker):
    root = psutil.Process(broker.process.pid)
    if not multiproc():
        return [root.pid]
    return [c.pid for c in root.children() if c.name().startswith("hpb-h")]


def _read_all(bootstrap, topic, n, timeout=30.0):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "full-disk", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        return _poll_values(c, n, timeout)
    finally:
        c.close()


def _produce_numbers(bootstrap, topic, n):
    """Values b"0" .. b"n-1" into partition 0, all acknowledged."""
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        p.produce(topic, b"%d" % i, partition=0)
    assert p.flush(15) == 0


def _poll_values(consumer, n, timeout=60.0):
    """Up to ``n`` values ``consumer`` receives within ``timeout`` (errors skipped)."""
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        m = consumer.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value())
    return got


def test_writes_refused_then_resumed():
    with mode_broker(subprocess=True) as b:
        topic = create_topic(b.bootstrap, "full-disk")  # its files exist before the limit
        p = Producer(
            {"bootstrap.servers": b.bootstrap, "enable.idempotence": True, "linger.ms": 2, "message.timeout.ms": 60000}
        )
        for i in range(BEFORE):
            p.produce(topic, b"%06d" % i + b"x" * 1000, partition=0)
        assert p.flush(15) == 0
        # the consumer below looks up its group coordinator: __consumer_offsets (50 partitions,
        # each with 10 MiB index files) is created now, not under the lowered limit
        assert len(_read_all(b.bootstrap, topic, BEFORE)) == BEFORE

        pids = _writers(b)
        assert pids
        limit = 1 << 20  # the segment holds ~200 KB: room for a few hundred more records, then EFBIG
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        for pid in pids:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))
        errors, delivered = [], []
        for i in range(BEFORE, BEFORE + DURING):
            p.produce(
                topic,
                b"%06d" % i + b"x" * 1000,
                partition=0,
                on_delivery=lambda err, m: (errors if err else delivered).append(err or m.offset()),
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("cannot append to" in line for line in b.extra["log"]):
            p.poll(0.2)
        assert any("cannot append to" in line and "File too large" in line for line in b.extra["log"]), (
            f"the broker never refused a write: {len(delivered)} delivered, log tail {b.extra['log'][-5:]}"
        )
        assert len(delivered) < DURING and not errors  # waiting, retrying: nothing failed yet
        assert len(_read_all(b.bootstrap, topic, BEFORE)) >= BEFORE  # reads go on meanwhile

        for pid in pids:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
        assert p.flush(60) == 0 and not errors
        total = BEFORE + DURING
        got = _read_all(b.bootstrap, topic, total)
        assert [int(v[:6]) for v in got] == list(range(total))  # each once, in order


@pytest.mark.skipif(not multiproc(), reason="handler processes apply the controller's registry")
def test_a_handler_that_cannot_open_new_partitions_keeps_serving():
    """A handler that cannot create the files of partitions a new topic gives it keeps serving the
    partitions it has, and opens the new ones once it can (it retries every second)."""
    with mode_broker(subprocess=True) as b:
        existing = create_topic(b.bootstrap, "existing", partitions=2)  # one partition per handler
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "message.timeout.ms": 30000})

        def produce_all(topic):
            for partition in (0, 1):
                p.produce(topic, b"v", partition=partition)
            return p.flush(30)

        assert produce_all(existing) == 0
        h1 = next(c.pid for c in psutil.Process(b.process.pid).children() if c.name() == "hpb-h1")
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(h1, resource.RLIMIT_FSIZE, (4096, hard))  # no room for 10 MiB index files
        late = create_topic(b.bootstrap, "late", partitions=2)
        assert any("cannot open the partitions" in line for line in b.extra["log"])
        assert produce_all(existing) == 0  # both handlers still answer
        resource.prlimit(h1, resource.RLIMIT_FSIZE, (hard, hard))
        assert produce_all(late) == 0
        assert _read_all(b.bootstrap, late, 1) == [b"v"]  # partition 0's record, read back


def _coordinator_ready(bootstrap, group, timeout=20.0):
    """Wait until the process coordinating ``group`` answers for it: a handler other than the
    controller opens the partitions of a new __consumer_offsets when it applies the topic, which
    can come after the request that created it has been answered."""
    from hpbroker.testing import wait_until
    from tests.integration.rawclient import RawClient

    with RawClient(bootstrap) as client:  # DescribeGroups
        wait_until(
            lambda: client.request(15, 0, {"groups": [group]})["groups"][0]["error_code"] == 0,
            timeout,
            f"a coordinator to answer for group {group!r}",
        )


def _failures(broker):
    return [line for line in broker.extra["log"] if " failed on api key " in line or "Traceback" in line]


def test_group_writes_refused_then_resumed():
    """__consumer_offsets refuses writes: a rebalance's SyncGroup, DeleteGroups and OffsetDelete
    answer NOT_COORDINATOR (Kafka's mapping of a storage error) and change nothing; no request
    fails outright. Once the disk takes writes again the same clients carry on."""
    from kafka import TopicPartition as KTopicPartition
    from kafka.admin import KafkaAdminClient
    from kafka.errors import NotCoordinatorError

    with mode_broker(subprocess=True) as b:
        topic = create_topic(b.bootstrap, "full-disk-groups")
        _produce_numbers(b.bootstrap, topic, 20)
        # a group with committed offsets and no members; its __consumer_offsets partition holds them
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "fd-old", "enable.auto.commit": False})
        c.assign([TopicPartition(topic, 0, 0)])
        c.commit(offsets=[TopicPartition(topic, 0, 20)], asynchronous=False)
        c.close()
        admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
        try:
            _coordinator_ready(b.bootstrap, "fd-new")  # its shard is loaded before the disk fills
            pids = _writers(b)
            _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            for pid in pids:
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))

            assert admin.delete_groups(["fd-old"]) == {"fd-old": "NotCoordinatorError"}
            with pytest.raises(NotCoordinatorError):
                admin.delete_group_offsets("fd-old", [KTopicPartition(topic, 0)])

            sub = Consumer(
                {
                    "bootstrap.servers": b.bootstrap,
                    "group.id": "fd-new",
                    "auto.offset.reset": "earliest",
                    "session.timeout.ms": 10000,
                }
            )
            sub.subscribe([topic])
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(
                "cannot store the assignment" in line for line in b.extra["log"]
            ):
                assert sub.poll(0.2) is None
            assert any("cannot store the assignment of group 'fd-new'" in line for line in b.extra["log"]), "\n".join(
                b.extra["log"][-60:]
            )  # the broker's own account, should this ever fail
            assert sub.assignment() == []

            for pid in pids:
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
            got = [int(v) for v in _poll_values(sub, 20)]
            sub.close()
            assert got == list(range(20))
            assert admin.delete_groups(["fd-old"]) == {"fd-old": "OK"}
            assert not _failures(b), _failures(b)
        finally:
            admin.close()


def test_topics_and_the_group_coordinator_not_created_on_a_full_disk():
    """A disk that refuses the files of a new topic: CreateTopics answers KAFKA_STORAGE_ERROR and
    leaves nothing behind (no registered topic without partitions), auto-creation answers
    UNKNOWN_TOPIC_OR_PARTITION, the group coordinator is COORDINATOR_NOT_AVAILABLE instead of a
    closed connection; with room again, the same names are created and used."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient, NewTopic

    with mode_broker(subprocess=True) as b:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        pids = _writers(b)
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        for pid in pids:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (4096, hard))  # no room for index files

        fs = admin.create_topics([NewTopic("refused", num_partitions=2, replication_factor=1)], operation_timeout=10)
        with pytest.raises(Exception) as info:
            fs["refused"].result(timeout=15)
        assert info.value.args[0].code() == KafkaError.KAFKA_STORAGE_ERROR
        assert "refused" not in admin.list_topics(timeout=10).topics

        # auto-creation through Metadata, and the first group (its coordinator's topic)
        c = Consumer(
            {
                "bootstrap.servers": b.bootstrap,
                "group.id": "fd-first",
                "auto.offset.reset": "earliest",
                "allow.auto.create.topics": True,
            }
        )
        c.subscribe(["auto-refused"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            "cannot create __consumer_offsets" in line for line in b.extra["log"]
        ):
            c.poll(0.2)
        assert any("cannot create __consumer_offsets" in line for line in b.extra["log"])
        topics = admin.list_topics(timeout=10).topics
        assert "auto-refused" not in topics and "__consumer_offsets" not in topics

        for pid in pids:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
        create_topic(b.bootstrap, "refused", partitions=2)  # not TOPIC_ALREADY_EXISTS
        p = Producer({"bootstrap.servers": b.bootstrap})
        for partition in (0, 1):
            p.produce("refused", b"v%d" % partition, partition=partition)
        p.produce("auto-refused", b"auto")
        assert p.flush(30) == 0
        got = _poll_values(c, 1)
        c.close()
        assert got == [b"auto"]
        assert not _failures(b), _failures(b)


def test_a_group_on_a_coordinator_partition_its_handler_cannot_open_yet():
    """Multi-process: the controller creates __consumer_offsets while the disk of another handler
    refuses files, so that handler knows the topic but cannot open its partitions (it retries
    every second). A group coordinated there is answered NOT_COORDINATOR meanwhile, as Kafka
    answers for an offline coordinator partition: no failed request, no closed connection. With
    room again the handler opens them and the same consumer joins and reads everything."""
    if not multiproc():
        pytest.skip("needs a handler other than the controller")
    from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
    from hpbroker.coordinator.records import partition_for
    from hpbroker.server.multiproc.routing import CONTROLLER_HANDLER, owner

    handlers = int(MULTIPROC_ARGS[MULTIPROC_ARGS.index("--handlers") + 1])
    with mode_broker(subprocess=True) as b:
        topic = create_topic(b.bootstrap, "full-disk-late")
        _produce_numbers(b.bootstrap, topic, 20)
        other = next(h for h in range(handlers) if h != CONTROLLER_HANDLER)
        pid = next(c.pid for c in psutil.Process(b.process.pid).children() if c.name() == f"hpb-h{other}")
        group = next(
            g
            for g in (f"fd-late-{i}" for i in range(1000))
            if owner(GROUP_METADATA_TOPIC, partition_for(g, 50), handlers) == other
        )
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))

        c = Consumer(
            {
                "bootstrap.servers": b.bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10000,
            }
        )
        c.subscribe([topic])
        refused = f"handler {other} cannot open the partitions"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(refused in line for line in b.extra["log"]):
            assert c.poll(0.2) is None
        assert any(refused in line for line in b.extra["log"]), "\n".join(b.extra["log"][-40:])
        until = time.monotonic() + 3  # the consumer keeps trying to join the handler meanwhile
        while time.monotonic() < until:
            assert c.poll(0.2) is None
        assert not _failures(b), _failures(b)

        resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
        got = [int(v) for v in _poll_values(c, 20)]
        c.close()
        assert got == list(range(20))
        assert not _failures(b), _failures(b)
