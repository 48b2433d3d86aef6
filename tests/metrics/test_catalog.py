"""The catalog of metrics: unique names, names as the JMX exporter's Kafka rules make them, and
every one of them documented in docs/operations.md."""

import re
from pathlib import Path

import hpbroker
from hpbroker.metrics.catalog import COUNTER, EVERY_METRIC, HISTOGRAM

OPERATIONS = Path(hpbroker.__file__).parent.parent / "docs" / "operations.md"


def test_names_are_unique_and_counters_end_in_total():
    names = [m.name for m in EVERY_METRIC]
    assert len(names) == len(set(names))
    for m in EVERY_METRIC:
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", m.name), m.name
        assert m.name.endswith("_total") == (m.kind == COUNTER), m.name
        assert (m.unit in ("ms", "bytes")) == (m.kind == HISTOGRAM), m.name


def test_the_jmx_exporter_names_of_kafka_mbeans():
    """kafka.<domain><type=T, name=N[PerSec]> -> kafka_<domain>_<t>_<n>[_total], lower case
    (the exporter's kafka-2_0_0.yml rules), for every metric standing for a Kafka MBean (but
    the per-listener socket metrics and the idle ratios, named by Strimzi's rules)."""
    for m in EVERY_METRIC:
        found = re.fullmatch(r"kafka\.([\w.]+):type=(\w+),name=(\w+?)(PerSec)?(,.*)?", m.mbean)
        if not found:
            continue
        domain, type_, name, per_sec = found.group(1), found.group(2), found.group(3), found.group(4)
        if name.endswith("Percent"):
            expected = f"kafka_{domain}_{type_}_{name[: -len('Percent')]}_percent".lower()
        else:
            expected = f"kafka_{domain.replace('.', '_')}_{type_}_{name}".lower() + ("_total" if per_sec else "")
        assert m.name == expected, (m.mbean, m.name)


def test_docs_operations_lists_every_metric():
    text = OPERATIONS.read_text()
    missing = [m.name for m in EVERY_METRIC if f"`{m.name}`" not in text]
    assert not missing, f"docs/operations.md does not list {missing}"
