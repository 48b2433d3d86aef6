"""compression.type on a topic: batches are stored with that codec whatever the producer sent
(recompressed per batch, as Kafka's LogValidator does), consumers read the same records, and a
topic stored as zstd is refused to Fetch versions before 10 (UNSUPPORTED_COMPRESSION_TYPE)."""

import pytest
from confluent_kafka import Producer

from hpbroker.records import batch
from hpbroker.records.builder import build_batch
from hpbroker.records.layout import GZIP, NO_COMPRESSION, ZSTD
from tests.integration.conftest import confluent_consume_all, create_topic
from tests.integration.rawclient import RawClient, produce_body, produce_result

pytestmark = pytest.mark.integration


def _fetch(bootstrap, topic, version):
    body = {
        "replica_id": -1,
        "max_wait_ms": 0,
        "min_bytes": 0,
        "max_bytes": 1 << 20,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "rack_id": "",
        "forgotten_topics_data": [],
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": 0,
                        "current_leader_epoch": -1,
                        "fetch_offset": 0,
                        "log_start_offset": -1,
                        "partition_max_bytes": 1 << 20,
                    }
                ],
            }
        ],
    }
    with RawClient(bootstrap) as rc:
        p = rc.request(1, version, body)["responses"][0]["partitions"][0]
    data = bytes(p["records"] or b"")
    codecs, pos = [], 0
    while pos < len(data):
        h = batch.read_header(data, pos)
        codecs.append(h.compression)
        pos += h.size
    return p["error_code"], codecs


@pytest.mark.parametrize("sent", ["none", "lz4"])
def test_batches_are_stored_with_the_topics_codec(bootstrap, topic_name, sent):
    create_topic(bootstrap, topic_name, config={"compression.type": "gzip"})
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": sent, "linger.ms": 5})
    for i in range(200):
        p.produce(topic_name, key=b"k%d" % i, value=b"value %d " % i * 20)
    assert p.flush(15) == 0
    code, codecs = _fetch(bootstrap, topic_name, 11)
    assert code == 0 and codecs and set(codecs) == {GZIP}
    got = confluent_consume_all(bootstrap, topic_name, 1, 200)
    assert [(m.key(), m.value()) for m in got] == [(b"k%d" % i, b"value %d " % i * 20) for i in range(200)]


def test_uncompressed_topic_and_zstd_for_old_fetch_versions(bootstrap, topic_name):
    create_topic(bootstrap, topic_name, config={"compression.type": "uncompressed"})
    with RawClient(bootstrap) as rc:
        for codec in (GZIP, ZSTD):
            resp = rc.request(0, 8, produce_body(topic_name, 0, build_batch([b"x" * 100] * 5, compression=codec)))
            assert produce_result(resp)[0] == 0
    assert _fetch(bootstrap, topic_name, 11) == (0, [NO_COMPRESSION, NO_COMPRESSION])
    zstd_topic = create_topic(bootstrap, topic_name + "-z", config={"compression.type": "zstd"})
    with RawClient(bootstrap) as rc:
        assert produce_result(rc.request(0, 8, produce_body(zstd_topic, 0, build_batch([b"y" * 100] * 5))))[0] == 0
    assert _fetch(bootstrap, zstd_topic, 11) == (0, [ZSTD])
    assert _fetch(bootstrap, zstd_topic, 9) == (76, [])  # UNSUPPORTED_COMPRESSION_TYPE
    assert _fetch(bootstrap, topic_name, 9)[0] == 0  # only a topic stored as zstd is refused
