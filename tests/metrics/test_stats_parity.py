"""The compiled recorder (cython/metrics/_cstats.pyx) and its pure twin count the same."""

import importlib
import random

import pytest

from hpbroker.metrics import _pystats
from hpbroker.metrics.layout import REGION_BYTES, TIME_BUCKETS_US, Counter, Histogram

try:
    _cstats = importlib.import_module("hpbroker.metrics._cstats")
except ImportError:  # the build is checked by tests/test_speedups.py
    _cstats = None


def _exercise(module, seed):
    rng = random.Random(seed)
    buf = bytearray(REGION_BYTES)
    rec = module.Recorder(memoryview(buf).cast("q"))
    edges = [0, 1] + [b + d for b in TIME_BUCKETS_US for d in (-1, 0, 1)] + [10**12]
    for _ in range(2000):
        api = rng.choice([0, 1, 3, 18, 95, 96, -1])
        received = rng.randrange(10**12)
        start = received + rng.choice(edges) * 1000 + rng.randrange(1000)
        local = start + rng.choice(edges) * 1000
        remote = local + rng.choice(edges) * 1000
        released = remote + rng.choice(edges) * 1000
        sent = released + rng.choice(edges) * 1000
        version = rng.randrange(-2, 40)
        if rng.random() < 0.3:
            start = local = -1
        rec.request(
            (api, version, rng.randrange(1 << 31), received, start, local, remote),
            rng.randrange(1 << 31),
            released,
            sent,
        )
        rec.handled(api, rng.randrange(1 << 32), received, start if start > 0 else received, remote)
        rec.produced(rng.randrange(5), rng.randrange(1 << 20), rng.randrange(1000))
        rec.topic_add(rng.randrange(5), rng.randrange(8), rng.randrange(1 << 20))
        rec.observe(rng.choice(list(Histogram)), rng.choice(edges))
        rec.count(rng.choice(list(Counter)), rng.randrange(3))
    return bytes(buf)


@pytest.mark.skipif(_cstats is None, reason="compiled module not built")
@pytest.mark.parametrize("seed", range(3))
def test_compiled_and_pure_recorders_count_the_same(seed):
    assert _exercise(_cstats, seed) == _exercise(_pystats, seed)


def test_a_bucket_bound_is_inclusive_as_prometheus_le():
    buf = bytearray(REGION_BYTES)
    rec = _pystats.Recorder(memoryview(buf).cast("q"))
    words = memoryview(buf).cast("q")
    from hpbroker.metrics.layout import HISTOGRAMS_AT

    rec.observe(Histogram.LOG_FLUSH, TIME_BUCKETS_US[0])  # le="0.05": 50 us counts there
    rec.observe(Histogram.LOG_FLUSH, TIME_BUCKETS_US[0] + 1)
    assert words[HISTOGRAMS_AT] == 1 and words[HISTOGRAMS_AT + 1] == 1
