"""Batches from real clients' record builders validate and iterate here; ours read in theirs.

kafka-python (kafka.record.default_records) and aiokafka (its Cython builder and its pure
twin) build batches with every codec they support; the same records must come out of
hpbroker.records. The other way round, kafka-python's and aiokafka's readers consume our
builder's batches, plain, patched and rewritten to LogAppendTime.
"""

from __future__ import annotations

import pytest
from aiokafka.record import default_records as ak
from kafka.record import default_records as kp

from hpbroker.records import batch
from hpbroker.records.builder import build_batch
from hpbroker.records.layout import GZIP, LZ4, NO_COMPRESSION, SNAPPY, ZSTD
from hpbroker.records.records import iter_batch_records

CODECS = {"none": NO_COMPRESSION, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
BUILDERS = {
    "kafka-python": kp.DefaultRecordBatchBuilder,
    "aiokafka": ak.DefaultRecordBatchBuilder,
    "aiokafka-py": ak._DefaultRecordBatchBuilderPy,
}
READERS = {
    "kafka-python": kp.DefaultRecordBatch,
    "aiokafka": ak.DefaultRecordBatch,
    "aiokafka-py": ak._DefaultRecordBatchPy,
}

T0 = 1_700_000_000_000
RECORDS = [
    (b"k0", b"v0", []),
    (None, b"value without key", [("h1", b"x"), ("h2", None)]),
    (b"k2", None, []),  # tombstone
    (b"", b"", [("", b"")]),
    (b"big", b"\x00\x01" * 40_000, [("trace", b"abc")]),
    (b"k5", "unicode ✓".encode(), []),
]


def _their_batch(builder_cls, codec, producer_id=-1, epoch=-1, sequence=-1, transactional=False):
    b = builder_cls(2, codec, transactional, producer_id, epoch, sequence, 1 << 24)
    for i, (key, value, headers) in enumerate(RECORDS):
        b.append(i, T0 + i * 7, key, value, headers)
    return bytes(b.build())


def _ours(buf):
    return [(r.offset, r.timestamp, r.key, r.value, [(k, v) for k, v in r.headers]) for r in iter_batch_records(buf)]


def _theirs(reader_cls, buf):
    return [(r.offset, r.timestamp, r.key, r.value, [(k, v) for k, v in r.headers]) for r in reader_cls(buf)]


EXPECTED = [(i, T0 + i * 7, k, v, h) for i, (k, v, h) in enumerate(RECORDS)]


@pytest.mark.parametrize("codec", CODECS, ids=list(CODECS))
@pytest.mark.parametrize("builder", BUILDERS, ids=list(BUILDERS))
def test_client_batches_validate_and_iterate(builder, codec):
    buf = _their_batch(BUILDERS[builder], CODECS[codec])
    h = batch.validate(buf)
    assert h.compression == CODECS[codec] and h.records_count == len(RECORDS)
    assert h.max_timestamp == T0 + (len(RECORDS) - 1) * 7 and not h.log_append_time
    assert _ours(buf) == EXPECTED


@pytest.mark.parametrize("builder", BUILDERS, ids=list(BUILDERS))
def test_client_idempotent_and_transactional_batches(builder):
    buf = bytearray(_their_batch(BUILDERS[builder], LZ4, 4242, 3, 17, transactional=True))
    h = batch.validate(buf)
    assert (h.producer_id, h.producer_epoch, h.base_sequence) == (4242, 3, 17)
    assert h.is_transactional and h.last_sequence == 17 + len(RECORDS) - 1
    batch.patch(buf, 0, 1000, 5)
    assert batch.validate(buf).base_offset == 1000
    assert [r.offset for r in iter_batch_records(buf)] == list(range(1000, 1000 + len(RECORDS)))


@pytest.mark.parametrize("codec", CODECS, ids=list(CODECS))
@pytest.mark.parametrize("reader", READERS, ids=list(READERS))
def test_our_batches_read_by_clients(reader, codec):
    records = [(k, v, h, T0 + i * 7) for i, (k, v, h) in enumerate(RECORDS)]
    buf = build_batch(records, compression=CODECS[codec], producer_id=9, producer_epoch=1, base_sequence=0)
    batch.patch(buf, 0, 500, 2)
    rb = READERS[reader](bytes(buf))
    assert rb.validate_crc()
    assert rb.base_offset == 500 and rb.compression_type == CODECS[codec]
    assert rb.producer_id == 9 and rb.max_timestamp == T0 + (len(RECORDS) - 1) * 7
    got = _theirs(READERS[reader], bytes(buf))
    assert got == [(500 + i, ts, k, v, h) for i, ts, k, v, h in EXPECTED]


@pytest.mark.parametrize("codec", CODECS, ids=list(CODECS))
def test_log_append_time_read_by_kafka_python(codec):
    buf = build_batch([(b"a", b"1", [], T0), (b"b", b"2", [], T0 + 5)], compression=CODECS[codec])
    batch.set_log_append_time(buf, 0, T0 + 999)
    rb = kp.DefaultRecordBatch(bytes(buf))
    assert rb.validate_crc() and rb.timestamp_type == 1
    assert [r.timestamp for r in kp.DefaultRecordBatch(bytes(buf))] == [T0 + 999] * 2
    assert [r.timestamp for r in iter_batch_records(buf)] == [T0 + 999] * 2


def test_control_batch_read_by_kafka_python():
    from hpbroker.records.builder import COMMIT, build_control_batch, read_control_record

    buf = build_control_batch(COMMIT, producer_id=7, producer_epoch=2, coordinator_epoch=11, base_offset=40)
    rb = kp.DefaultRecordBatch(bytes(buf))
    assert rb.validate_crc() and rb.is_control_batch and rb.is_transactional
    (rec,) = list(kp.DefaultRecordBatch(bytes(buf)))
    assert rec.offset == 40 and rec.type == 1  # kafka-python's ControlRecord: COMMIT
    (ours,) = list(iter_batch_records(buf))
    assert read_control_record(ours.key, ours.value) == (COMMIT, 11)
    with pytest.raises(batch.InvalidRecordBatch) as e:  # clients may not send one
        batch.validate(buf)
    assert e.value.error_code == batch.INVALID_RECORD
    assert batch.scan(bytes(buf))[0] == len(buf)  # but the log stores it
