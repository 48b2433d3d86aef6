"""The Cython module and its pure twin agree on every batch, valid or damaged.

Both are imported directly (not through hpbroker._speedups), so this runs the same in the
compiled and the HPBROKER_PURE=1 pass of the suite.
"""

from __future__ import annotations

import mmap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpbroker.records import _cbatch, _pybatch
from hpbroker.records.layout import CORRUPT_MESSAGE, INVALID_RECORD, InvalidRecordBatch
from tests.records.records_strategies import batches, damaged

IMPLS = (_cbatch, _pybatch)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except InvalidRecordBatch as exc:
        return ("invalid", exc.error_code, str(exc))
    except (ValueError, TypeError) as exc:
        return (type(exc).__name__,)


def same(fn_name, *args):
    c = outcome(getattr(_cbatch, fn_name), *args)
    p = outcome(getattr(_pybatch, fn_name), *args)
    assert c == p, (fn_name, c, p)
    return c


@SETTINGS
@given(batches())
def test_valid_batches_agree(buf):
    for mod in IMPLS:
        assert mod.validate(buf).records_count >= 1
    assert same("read_header", bytes(buf))[0] == "ok"
    assert same("validate", bytes(buf))[0] == "ok"
    assert same("scan", bytes(buf))[1][0] == len(buf)


@SETTINGS
@given(damaged(), st.integers(-2, 70), st.integers(-1, 200))
def test_damaged_batches_agree(buf, pos, end_cut):
    data = bytes(buf)
    same("read_header", data)
    result = same("validate", data)
    if result[0] == "invalid":
        assert result[1] in (CORRUPT_MESSAGE, INVALID_RECORD)
    same("validate", data, max(pos, 0), -1)
    same("validate", data, pos, max(len(data) - end_cut, -1))
    same("scan", data)
    same("scan", data, 0, -1, False)
    if pos >= 0:
        same("scan", data, pos, len(data) - end_cut)


@SETTINGS
@given(st.lists(batches(), min_size=1, max_size=4), damaged(), st.booleans())
def test_scan_of_a_log_agrees(good, bad, check_crc):
    log = b"".join(bytes(b) for b in good) + bytes(bad)
    end, found = same("scan", log, 0, -1, check_crc)[1]
    assert len(found) >= len(good)
    assert end >= sum(len(b) for b in good)


@SETTINGS
@given(batches() | damaged(), st.integers(-(2**63), 2**63 - 1), st.integers(-(2**31), 2**31 - 1), st.integers(-2, 80))
def test_patch_agrees(buf, base_offset, epoch, pos):
    results = []
    for mod in IMPLS:
        b = bytearray(buf)
        results.append((outcome(mod.patch, b, pos, base_offset, epoch), bytes(b)))
    assert results[0] == results[1]


@SETTINGS
@given(batches() | damaged(), st.integers(-(2**63), 2**63 - 1), st.integers(-2, 80))
def test_set_log_append_time_agrees(buf, timestamp, pos):
    results = []
    for mod in IMPLS:
        b = bytearray(buf)
        results.append((outcome(mod.set_log_append_time, b, pos, timestamp), bytes(b)))
    assert results[0] == results[1]


@SETTINGS
@given(batches(), st.integers(0, 2**62), st.integers(0, 2**31 - 1), st.integers(0, 2**62))
def test_patched_batches_stay_valid(buf, base_offset, epoch, now):
    for mod in IMPLS:
        b = bytearray(buf)
        mod.patch(b, 0, base_offset, epoch)
        h = _pybatch.validate(b)
        assert (h.base_offset, h.partition_leader_epoch, h.crc) == (base_offset, epoch, _cbatch.read_header(buf).crc)
        mod.set_log_append_time(b, 0, now)
        h = _cbatch.validate(b)
        assert h.max_timestamp == now and h.log_append_time


# ---- buffer kinds: the broker hands in bytes, bytearray, mmap and memoryview slices ----


@pytest.mark.parametrize("mod", IMPLS, ids=["cython", "pure"])
def test_buffer_kinds(mod, tmp_path):
    from hpbroker.records.builder import build_batch

    one = bytes(build_batch([b"a", b"bb"], base_timestamp=5))
    log = one * 3
    path = tmp_path / "seg.log"
    path.write_bytes(log)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as ro:
        assert mod.scan(ro)[0] == len(log)
        assert mod.validate(ro, len(one), 2 * len(one)).records_count == 2
        with pytest.raises(TypeError):
            mod.patch(ro, 0, 1, 1)
        with pytest.raises(TypeError):
            mod.set_log_append_time(ro, 0, 1)
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as rw:
        mod.patch(rw, len(one), 77, 3)
        mod.set_log_append_time(rw, len(one), 99)
        assert mod.validate(rw, len(one), 2 * len(one)).base_offset == 77
        rw.close()  # no export of the mmap may outlive the calls
    view = memoryview(bytearray(b"xx" + log))[2:]
    mod.patch(view, 0, 5, 6)
    assert mod.validate(view[: len(one)]).base_offset == 5
    assert mod.scan(view)[0] == len(log)
    with pytest.raises(TypeError):
        mod.patch(one, 0, 1, 1)
    with pytest.raises(ValueError):
        mod.scan(log, -1)
    with pytest.raises(ValueError):
        mod.validate(one, 0, len(one) + 1)
    with pytest.raises(ValueError):
        mod.validate(one, -5)
    assert mod.scan(log, 0, len(log) + 100)[0] == len(log)  # end past the buffer is clamped


@pytest.mark.parametrize("mod", IMPLS, ids=["cython", "pure"])
def test_batch_length_overflow(mod):
    import struct

    from hpbroker.records.builder import build_batch

    b = build_batch([b"x"])
    for length in (2**31 - 1, 2**31 - 12, -1, -(2**31), 48):
        struct.pack_into(">i", b, 8, length)
        with pytest.raises(InvalidRecordBatch) as e:
            mod.validate(b)
        assert e.value.error_code == CORRUPT_MESSAGE
        assert mod.scan(bytes(b)) == (0, [])
        with pytest.raises(InvalidRecordBatch):
            mod.set_log_append_time(b, 0, 1)
