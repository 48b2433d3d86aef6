"""Unit tests of the perf tools' shared helpers (no broker needed)."""
import pytest

import _brokers
import _common


def test_percentiles_nearest_rank():
    values = list(range(1, 1001))
    got = _common.percentiles(values, (50, 99, 99.9, 100))
    assert got == {"p50": 500, "p99": 990, "p99.9": 999, "max": 1000}
    assert _common.percentiles([], (50,)) == {"p50": None}


def test_client_config_pairs():
    assert _common.parse_client_config(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(SystemExit):
        _common.parse_client_config(["novalue"])


@pytest.mark.parametrize("line, bootstrap", [
    ("INFO hpbroker: listening on 127.0.0.1:9092", ("127.0.0.1", "9092")),
    ("listening on tcp://localhost:19092 (advertised ...)", ("localhost", "19092")),
    ("listening on [::1]:9093", ("[::1]", "9093")),
])
def test_readiness_line(line, bootstrap):
    assert _brokers.LISTENING.search(line).groups() == bootstrap


def test_broker_that_exits_early_is_reported_with_its_log(tmp_path):
    import sys

    with pytest.raises(RuntimeError, match="(?s)exited with code 3.*boom"):
        _brokers.start_hpbroker(f"{sys.executable} -c \"import sys; print('boom'); sys.exit(3)\"",
                                timeout=10)
