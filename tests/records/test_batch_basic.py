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
