"""Open files: partitions need descriptors, and a broker out of them keeps serving.

A CreateTopics for more partitions than the open-file limit leaves room for is refused with
INVALID_PARTITIONS (otherwise 2^31-1 partitions would be created one by one until EMFILE, and
the topic's Metadata would then grow the broker until the OOM killer took it); a listening
socket that cannot accept for lack of descriptors is paused for a second instead of spinning
the loop."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import psutil
import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from hpbroker.testing import running_broker, wait_until
from tests.integration.conftest import MULTIPROC_ARGS, confluent_consume_all, multiproc
from tests.integration.rawclient import RawClient

pytestmark = pytest.mark.integration


def _code(future):
    with pytest.raises(KafkaException) as e:
        future.result(timeout=15)
    return e.value.args[0]


def _args():
    return list(MULTIPROC_ARGS) if multiproc() else []


def test_partitions_beyond_the_open_file_limit_are_refused(tmp_path):
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=_args(), open_files=900) as b:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        for n in (100_000, 1000):  # librdkafka's own bound is 100,000
            err = _code(admin.create_topics([NewTopic(f"huge{n}", n, 1)])[f"huge{n}"])
            assert err.code() == 37 and "open-file limit" in err.str()  # INVALID_PARTITIONS
        with RawClient(b.bootstrap) as c:
            r = c.request(
                19,
                4,
                {
                    "topics": [
                        {
                            "name": "huge-raw",
                            "num_partitions": 2**31 - 1,
                            "replication_factor": 1,
                            "assignments": [],
                            "configs": [],
                        }
                    ],
                    "timeout_ms": 5000,
                    "validate_only": False,
                },
            )
            assert r["topics"][0]["error_code"] == 37
        admin.create_topics([NewTopic("fits", 20, 1)])["fits"].result(timeout=15)
        err = _code(admin.create_partitions([NewPartitions("fits", 5000)])["fits"])
        assert err.code() == 37 and "open-file limit" in err.str()
        topics = admin.list_topics(timeout=10).topics
        assert not {"huge1000", "huge100000", "huge-raw"} & set(topics)
        assert len(topics["fits"].partitions) == 20
        p = Producer({"bootstrap.servers": b.bootstrap})
        for i in range(40):
            p.produce("fits", value=b"v%d" % i, partition=i % 20)
        assert p.flush(15) == 0
        assert len(confluent_consume_all(b.bootstrap, "fits", 20, 40)) == 40


def _exhaust_descriptors(b) -> list[socket.socket]:
    """More connections than a broker limited to 400 descriptors can accept (the rest wait in
    the backlog), once the broker has paused its listening socket."""
    host, port = b.bootstrap.rsplit(":", 1)
    socks = []
    try:
        for _ in range(450):
            socks.append(socket.create_connection((host, int(port)), timeout=5))
        wait_until(lambda: any("not accepting for" in l for l in b.extra["log"]), 10, "the broker to pause accepting")
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


@pytest.mark.timing
def test_a_listening_socket_paused_for_lack_of_descriptors_costs_no_cpu(tmp_path):
    with running_broker(subprocess=True, data_dir=str(tmp_path), open_files=400) as b:
        socks = _exhaust_descriptors(b)
        try:
            broker = psutil.Process(b.process.pid)
            t0 = broker.cpu_times()
            time.sleep(2.0)  # the measurement window
            t1 = broker.cpu_times()
            # paused, not re-woken by the pending connections: a spinning loop takes ~2 s here
            assert (t1.user + t1.system) - (t0.user + t0.system) < 0.5
        finally:
            for s in socks:
                s.close()


def test_out_of_descriptors_pauses_accepting_and_serving_resumes(tmp_path):
    with running_broker(subprocess=True, data_dir=str(tmp_path), open_files=400) as b:
        for s in _exhaust_descriptors(b):
            s.close()
        # descriptors are back: the broker accepts again and serves a real client
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.create_topics([NewTopic("after", 1, 1)])["after"].result(timeout=20)
        p = Producer({"bootstrap.servers": b.bootstrap})
        p.produce("after", value=b"x")
        assert p.flush(20) == 0


def test_start_up_raises_the_soft_open_file_limit_to_the_hard_one():
    code = (
        "import resource; soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE); "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard)); "
        "from hpbroker.storage.fd_limits import raise_open_file_limit, partition_room; "
        "new = raise_open_file_limit(); "
        "print(new == min(hard, 1 << 20), resource.getrlimit(resource.RLIMIT_NOFILE)[0] == new, "
        "partition_room() > 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "True"], out.stderr


def test_auto_creation_and_group_coordinator_without_room_create_nothing(tmp_path):
    with running_broker(subprocess=True, data_dir=str(tmp_path), open_files=260) as b:  # room for none
        with RawClient(b.bootstrap) as c:
            r = c.request(
                3,
                8,
                {
                    "topics": [{"name": "auto"}],
                    "allow_auto_topic_creation": True,
                    "include_cluster_authorized_operations": False,
                    "include_topic_authorized_operations": False,
                },
            )
            assert r["topics"][0]["error_code"] == 3  # UNKNOWN_TOPIC_OR_PARTITION, not created
            r = c.request(
                3,
                8,
                {
                    "topics": None,
                    "allow_auto_topic_creation": False,
                    "include_cluster_authorized_operations": False,
                    "include_topic_authorized_operations": False,
                },
            )
            assert [t["name"] for t in r["topics"]] == []
            # nor is __consumer_offsets: no group coordinator until there is room
            r = c.request(10, 2, {"key": "g", "key_type": 0})
            assert r["error_code"] == 15  # COORDINATOR_NOT_AVAILABLE
            r = c.request(9, 5, {"group_id": "g", "topics": None})
            assert r["error_code"] in (15, 16)  # not available / not coordinator: clients retry
            r = c.request(
                3,
                8,
                {
                    "topics": None,
                    "allow_auto_topic_creation": False,
                    "include_cluster_authorized_operations": False,
                    "include_topic_authorized_operations": False,
                },
            )
            assert [t["name"] for t in r["topics"]] == []
