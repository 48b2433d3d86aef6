"""Partition.append_from_client with a topic codec (compression.type): the stored batch has that
codec and the same records; one that no longer fits max.message.bytes after recompression is
refused as Kafka refuses it, and nothing is appended."""

import os

import pytest

from hpbroker.records import batch
from hpbroker.records.builder import build_batch
from hpbroker.records.layout import GZIP, NO_COMPRESSION, SNAPPY
from hpbroker.records.records import iter_batch_records
from hpbroker.replication.partition import AppendError, Partition
from hpbroker.storage import PartitionLog


def _partition(tmp_path):
    return Partition("t", 0, PartitionLog(str(tmp_path / "t-0")))


def _stored(p):
    data = b"".join(r.read() for r in p.log.read(0, 1 << 20).regions)
    return batch.read_header(data), [(r.offset, r.value) for r in iter_batch_records(data)]


def test_a_batch_is_stored_with_the_topic_codec(tmp_path):
    p = _partition(tmp_path)
    b = build_batch(
        [b"v%d" % i * 50 for i in range(10)], compression=SNAPPY, producer_id=4, producer_epoch=0, base_sequence=0
    )
    r = p.append_from_client(b, max_message_bytes=1 << 20, log_append_time=False, target_codec=GZIP)
    h, records = _stored(p)
    assert (r.base_offset, r.last_offset, h.compression, h.producer_id) == (0, 9, GZIP, 4)
    assert records == [(i, b"v%d" % i * 50) for i in range(10)]
    # the idempotent retry is still recognised (same sequence numbers)
    again = build_batch(
        [b"v%d" % i * 50 for i in range(10)], compression=SNAPPY, producer_id=4, producer_epoch=0, base_sequence=0
    )
    assert p.append_from_client(again, max_message_bytes=1 << 20, log_append_time=False, target_codec=GZIP).duplicate


def test_too_large_after_recompression(tmp_path):
    p = _partition(tmp_path)
    b = build_batch([os.urandom(2000) for _ in range(4)])  # random bytes grow under gzip
    with pytest.raises(AppendError) as err:
        p.append_from_client(b, max_message_bytes=len(b), log_append_time=False, target_codec=GZIP)
    assert err.value.error_code == 10 and p.log.log_end_offset == 0
    p.append_from_client(b, max_message_bytes=len(b), log_append_time=False, target_codec=NO_COMPRESSION)
    assert p.log.log_end_offset == 4


def test_the_topic_level_of_the_codec_is_used(tmp_path):
    from hpbroker.records.layout import ZSTD

    sizes = {}
    for level in (1, 19):
        p = Partition("t", 0, PartitionLog(str(tmp_path / f"t-{level}")))
        data = [(b"%05d" % i + b" some text that repeats itself now and then " * 3) for i in range(400)]
        p.append_from_client(
            build_batch(data), max_message_bytes=1 << 20, log_append_time=False, target_codec=ZSTD, target_level=level
        )
        h, records = _stored(p)
        assert h.compression == ZSTD and [v for _, v in records] == data
        sizes[level] = h.size
    assert sizes[19] < sizes[1]


def test_produce_settings_carry_the_codec_and_its_level():
    from hpbroker.config import BrokerConfig
    from hpbroker.metadata.topic_configs import produce_settings_for

    effective = BrokerConfig().effective_topic_config({"compression.type": "zstd", "compression.zstd.level": "7"})
    s = produce_settings_for(effective)
    assert (s.target_codec, s.target_level) == (4, 7)
    s = produce_settings_for(BrokerConfig().effective_topic_config({"compression.type": "gzip"}))
    assert (s.target_codec, s.target_level) == (1, -1)  # -1: zlib's default
    s = produce_settings_for(BrokerConfig().effective_topic_config({}))
    assert (s.target_codec, s.target_level) == (None, None)  # producer: stored as sent
