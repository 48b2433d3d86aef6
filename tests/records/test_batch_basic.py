import pytest

from hpbroker.records import batch
from hpbroker.records.builder import build_batch
from hpbroker.records.records import iter_batch_records


def test_build_validate_patch_roundtrip():
    b = build_batch([(b"k1", b"v1"), (None, b"v2"), (b"k3", None, [("h", b"x")])], base_timestamp=1000)
    h = batch.validate(b)
    assert h.records_count == 3 and h.last_offset_delta == 2 and h.magic == 2
    batch.patch(b, 0, 42, 7)
    h2 = batch.validate(b)  # patching does not break the CRC
    assert h2.base_offset == 42 and h2.partition_leader_epoch == 7
    recs = list(iter_batch_records(b))
    assert [r.offset for r in recs] == [42, 43, 44]
    assert recs[2].headers == [("h", b"x")] and recs[1].key is None and recs[2].value is None


def test_corrupt_crc_is_rejected():
    b = build_batch([b"hello"])
    b[-1] ^= 0xFF
    with pytest.raises(batch.InvalidRecordBatch) as e:
        batch.validate(b)
    assert e.value.error_code == batch.CORRUPT_MESSAGE


def test_scan_stops_at_torn_tail():
    a, b = build_batch([b"a"]), build_batch([b"bb"], base_offset=1)
    buf = bytes(a + b)
    end, found = batch.scan(buf)
    assert end == len(buf) and [f[1] for f in found] == [0, 1]
    end, found = batch.scan(buf[:-1])
    assert end == len(a) and len(found) == 1


def _rewrite(buf, offset, fmt, value):
    import struct

    from crc32c import crc32c

    struct.pack_into(fmt, buf, offset, value)
    struct.pack_into(">I", buf, 17, crc32c(memoryview(buf)[21:]))
    return buf


@pytest.mark.parametrize(
    "offset, fmt, value, code",
    [
        (16, ">b", 1, batch.INVALID_RECORD),  # magic 1: Produce v3+ takes magic 2 only
        (21, ">h", 5, batch.CORRUPT_MESSAGE),  # codec 5-7 do not exist
        (21, ">h", 7, batch.CORRUPT_MESSAGE),
        (21, ">h", 0x20, batch.INVALID_RECORD),  # control batch from a client
        (57, ">i", 2, batch.INVALID_RECORD),  # count vs lastOffsetDelta
        (43, ">q", 5, batch.INVALID_RECORD),  # producer id without a base sequence
    ],
)
def test_validate_error_codes(offset, fmt, value, code):
    b = _rewrite(build_batch([b"x"]), offset, fmt, value)
    with pytest.raises(batch.InvalidRecordBatch) as e:
        batch.validate(b)
    assert e.value.error_code == code


def test_uncompressed_records_must_match_their_count():
    b = build_batch([b"a", b"b"])
    _rewrite(b, 23, ">i", 0)
    _rewrite(b, 57, ">i", 1)  # header says one record, two are present
    with pytest.raises(batch.InvalidRecordBatch) as e:
        batch.validate(b)
    assert e.value.error_code == batch.INVALID_RECORD


def test_zstd_needs_produce_v7():
    h = batch.validate(build_batch([b"x"], compression=batch.ZSTD))
    batch.check_produce_version(h, 7)
    with pytest.raises(batch.InvalidRecordBatch) as e:
        batch.check_produce_version(h, 6)
    assert e.value.error_code == batch.UNSUPPORTED_COMPRESSION_TYPE
    batch.check_produce_version(batch.validate(build_batch([b"x"], compression=batch.LZ4)), 3)
