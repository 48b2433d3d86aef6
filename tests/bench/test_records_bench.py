"""Microbenchmarks of the record-batch layer (run by `make bench`; figures in docs/performance.md).

validate + patch is what every Produce pays per batch, so it is measured on a 1 MiB batch
(CRC-bound: the target is >= 2 GB/s) for the Cython module and its pure twin, plus a small
batch where per-call overhead dominates; scan is log recovery over 64 MiB of 16 KiB batches.
"""

from __future__ import annotations

import pytest

from hpbroker.records import _cbatch, _pybatch
from hpbroker.records.builder import build_batch

pytestmark = pytest.mark.bench

MiB = 1 << 20
IMPLS = {"cython": _cbatch, "pure": _pybatch}


def _batch(total: int, value_size: int) -> bytearray:
    n = max(1, (total - 61) // (value_size + 12))
    return build_batch([bytes([i % 251]) * value_size for i in range(n)], base_timestamp=1)


@pytest.fixture(scope="module")
def batch_1mib():
    return _batch(MiB, 1000)


@pytest.fixture(scope="module")
def log_64mib():
    one = _batch(16 * 1024, 200)
    return bytes(one) * (64 * MiB // len(one))


def _gbps(benchmark, nbytes):
    benchmark.extra_info["GB/s (median)"] = round(nbytes / benchmark.stats.stats.median / 1e9, 2)


@pytest.mark.parametrize("impl", IMPLS)
def test_validate_patch_1mib(benchmark, impl, batch_1mib):
    mod = IMPLS[impl]
    buf = bytearray(batch_1mib)

    def run():
        mod.validate(buf)
        mod.patch(buf, 0, 12345, 7)

    benchmark(run)
    _gbps(benchmark, len(buf))


@pytest.mark.parametrize("impl", IMPLS)
def test_validate_patch_1kib(benchmark, impl):
    mod = IMPLS[impl]
    buf = _batch(1024, 100)

    def run():
        mod.validate(buf)
        mod.patch(buf, 0, 12345, 7)

    benchmark(run)
    _gbps(benchmark, len(buf))


@pytest.mark.parametrize("impl", IMPLS)
def test_set_log_append_time_1mib(benchmark, impl, batch_1mib):
    mod = IMPLS[impl]
    buf = bytearray(batch_1mib)
    benchmark(mod.set_log_append_time, buf, 0, 1_700_000_000_000)
    _gbps(benchmark, len(buf))


@pytest.mark.parametrize("impl", IMPLS)
def test_scan_64mib_of_16kib_batches(benchmark, impl, log_64mib):
    mod = IMPLS[impl]
    end, found = benchmark(mod.scan, log_64mib)
    assert end == len(log_64mib) and len(found) == len(log_64mib) // found[0][4]
    _gbps(benchmark, len(log_64mib))


@pytest.mark.parametrize("offset_deltas", [False, True], ids=["count", "count+offset-deltas"])
def test_records_fill_1000_records(benchmark, offset_deltas):
    """The walk over a decompressed payload that every compressed batch pays on append: counting
    its records, and (what Produce does) checking their offset deltas as well."""
    from hpbroker.records.layout import RECORD_BATCH_OVERHEAD

    body = bytes(build_batch([b"v" * 100] * 1000, base_timestamp=1)[RECORD_BATCH_OVERHEAD:])
    assert benchmark(_cbatch.records_fill, body, 1000, offset_deltas)


def test_keyless_records_1000_records(benchmark):
    """The extra walk a compacted topic's uncompressed batch pays on append (every record needs
    a key); compare with test_records_fill_1000_records, the walk every batch already pays."""
    from hpbroker.records.layout import RECORD_BATCH_OVERHEAD

    body = bytes(build_batch([(b"k%d" % i, b"v" * 100) for i in range(1000)], base_timestamp=1)[RECORD_BATCH_OVERHEAD:])
    assert benchmark(_cbatch.keyless_records, body, 1000) == []
