"""The metrics endpoint's view: every process's region added up, as prometheus-client metric
families (the library writes the exposition formats).

Theory of operation
-------------------
A scrape reads each region once with numpy (a copy of its request blocks, counters, gauges and
histograms: some hundred kilobytes), adds the regions up and hands prometheus-client one
family per catalog entry (catalog.py); nothing on the request path waits for it, and in the
multi-process topology it runs in a process of its own. Regions are summed as counters are:
a request counted in a processor and the same request's handler time counted in a handler
process land in the same API's histograms. Gauges are summed (partition counts of the handlers
add up to the broker's) or averaged over the processes of one role (idle ratios), as the
catalog says.

Topic rows are matched by name across regions, and only topics that exist now are shown (a
deleted topic's rows stay in the regions, as its counters would keep their history, but Kafka
removes a deleted topic's metrics).

Who may touch: whoever serves the endpoint; it only reads the regions.
"""

from __future__ import annotations

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.samples import Sample

from hpbroker.metrics.catalog import CATALOG, COUNTER, GAUGE, HISTOGRAM, Metric
from hpbroker.metrics.layout import (
    API_WORDS,
    COUNTERS,
    COUNTERS_AT,
    FETCH_FOLLOWER,
    GAUGES,
    GAUGES_AT,
    H_INDEX,
    H_LISTENERS,
    H_MAGIC,
    H_ROLE,
    H_TOPICS,
    HANDLER,
    HISTOGRAMS_AT,
    IN_PROCESS,
    LISTENER_COLUMNS_AT,
    LISTENER_NAME_BYTES,
    MAGIC,
    MAX_API,
    NAMED_HISTOGRAMS,
    PROCESSOR,
    REQUESTS_AT,
    SIZE_BUCKETS,
    TIME_BUCKETS_US,
    TIME_HIST_WORDS,
    TOPIC_COLUMNS_AT,
    TOPIC_NAME_BYTES,
    TOPIC_WORDS,
    TOPICS_AT,
    VERSIONS,
    Gauge,
    TopicColumn,
    listener_at,
    request_histogram_at,
    topic_at,
)
from hpbroker.metrics.stats import read_name
from hpbroker.protocol import API_KEYS

_API_NAMES = {key: name for name, key in API_KEYS.items()}
_API_NAMES[API_KEYS["Fetch"]] = "FetchConsumer"  # Kafka's RequestMetrics name for it
_API_NAMES[FETCH_FOLLOWER] = "FetchFollower"
_PPM = 1_000_000


def _le(value: float) -> str:
    return repr(float(value)) if value != int(value) else f"{int(value)}.0"


_TIME_LE = [_le(us / 1000) for us in TIME_BUCKETS_US] + ["+Inf"]
_SIZE_LE = [_le(b) for b in SIZE_BUCKETS] + ["+Inf"]
_TOPIC_COLUMNS = len(TopicColumn)


_REQUEST_LABELS: dict[tuple[int, bool], tuple[list[dict], dict] | None] = {}


def _request_labels(api: int, times: bool):
    """(the label dict of each bucket, the label dict of count and sum) of an API's histogram."""
    key = (api, times)
    if key not in _REQUEST_LABELS:
        name = _API_NAMES.get(api)
        _REQUEST_LABELS[key] = (
            None
            if name is None
            else ([{"request": name, "le": b} for b in (_TIME_LE if times else _SIZE_LE)], {"request": name})
        )
    return _REQUEST_LABELS[key]


class Totals:
    """Every region added up, read once per scrape."""

    def __init__(self, regions):
        self.requests = np.zeros((MAX_API, API_WORDS), dtype=np.int64)
        self.histograms = np.zeros(NAMED_HISTOGRAMS * TIME_HIST_WORDS, dtype=np.int64)
        self.counters = np.zeros(COUNTERS, dtype=np.int64)
        self.gauges = np.zeros(GAUGES, dtype=np.int64)
        self.gauge_means: dict[int, list[np.ndarray]] = {PROCESSOR: [], HANDLER: []}
        self.topics: dict[str, np.ndarray] = {}
        self.all_topics = np.zeros(_TOPIC_COLUMNS, dtype=np.int64)
        self.listeners: dict[tuple[str, str], np.ndarray] = {}
        for buf in regions:
            words = np.frombuffer(buf, dtype="<i8")
            if int(words[H_MAGIC]) != MAGIC:
                continue
            role, index = int(words[H_ROLE]), int(words[H_INDEX])
            self.requests += words[REQUESTS_AT:HISTOGRAMS_AT].reshape(MAX_API, API_WORDS)
            self.histograms += words[HISTOGRAMS_AT:COUNTERS_AT]
            self.counters += words[COUNTERS_AT:GAUGES_AT]
            gauges = words[GAUGES_AT : GAUGES_AT + GAUGES].copy()
            self.gauges += gauges
            for r in (PROCESSOR, HANDLER):
                if role in (r, IN_PROCESS):
                    self.gauge_means[r].append(gauges)
            mv = memoryview(buf).cast("q") if not isinstance(buf, memoryview) or buf.format != "q" else buf
            used = min(int(words[H_TOPICS]), (len(words) - TOPICS_AT) // TOPIC_WORDS)
            rows = words[TOPICS_AT : TOPICS_AT + used * TOPIC_WORDS].reshape(used, TOPIC_WORDS)
            self.all_topics += rows[0, TOPIC_COLUMNS_AT : TOPIC_COLUMNS_AT + _TOPIC_COLUMNS]
            for slot in range(1, used):
                name = read_name(mv, topic_at(slot), TOPIC_NAME_BYTES)
                if name is None:
                    continue
                values = rows[slot, TOPIC_COLUMNS_AT : TOPIC_COLUMNS_AT + _TOPIC_COLUMNS]
                if name in self.topics:
                    self.topics[name] = self.topics[name] + values
                else:
                    self.topics[name] = values.copy()
            label = str(index) if role in (PROCESSOR, IN_PROCESS) else f"handler-{index}"
            for row in range(int(words[H_LISTENERS])):
                name = read_name(mv, listener_at(row), LISTENER_NAME_BYTES)
                if name is None:
                    continue
                at = listener_at(row) + LISTENER_COLUMNS_AT
                key = (name, label)
                values = words[at : at + 8].copy()
                self.listeners[key] = self.listeners[key] + values if key in self.listeners else values

    def gauge(self, metric: Metric, index: int) -> float:
        if metric.aggregate == "mean":
            values = [int(g[index]) for g in self.gauge_means.get(metric.role, [])]
            mean = sum(values) / len(values) if values else 0
            return mean / _PPM if index in (Gauge.NETWORK_IDLE_PPM, Gauge.HANDLER_IDLE_PPM) else mean
        return int(self.gauges[index])


def _histogram_family(metric: Metric, words: np.ndarray, labels: list[str]):
    """Add one histogram (``words``: buckets, +Inf, sum) as ``labels``; None if empty."""
    times = metric.unit == "ms"
    le = _TIME_LE if times else _SIZE_LE
    counts = np.cumsum(words[: len(le)])
    if not counts[-1]:
        return None
    total = int(words[len(le)])
    return [(b, int(c)) for b, c in zip(le, counts)], (total / 1000 if times else total)


class BrokerCollector:
    """A prometheus-client collector over ``regions()`` (the buffers of every process's region).
    ``topics()``, if given, names the topics that exist now; ``extra()`` yields further families
    (published snapshots, disk space: snapshot.py)."""

    def __init__(self, regions, topics=None, extra=None):
        self.regions = regions
        self.topics = topics
        self.extra = extra

    def describe(self):
        return []  # built per scrape: never asked for at registration

    def collect(self):
        totals = Totals(self.regions())
        existing = self.topics() if self.topics is not None else None
        for metric in CATALOG:
            family = self._family(metric, totals, existing)
            if family is not None:
                yield family
        if self.extra is not None:
            yield from self.extra()

    def _family(self, metric: Metric, t: Totals, existing):
        source = metric.source
        kind = source[0]
        if kind == "requests":
            f = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
            for api in range(MAX_API):
                name = _API_NAMES.get(api)
                if name is None:
                    continue
                for version in range(VERSIONS):
                    n = int(t.requests[api, version])
                    if n:
                        f.add_metric([name, str(version)], n)
            return f
        if kind == "request":
            # every API's histogram at once (numpy), and samples built with label dicts made once
            # per process: add_metric would rebuild them per bucket, per scrape
            f = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
            times = metric.unit == "ms"
            le = _TIME_LE if times else _SIZE_LE
            at = request_histogram_at(source[1])
            block = t.requests[:, at : at + len(le) + 1]
            cumulative = np.cumsum(block[:, : len(le)], axis=1)
            bucket, count, total = f.name + "_bucket", f.name + "_count", f.name + "_sum"
            samples = f.samples
            for api in np.flatnonzero(cumulative[:, -1]).tolist():
                labels = _request_labels(api, times)
                if labels is None:
                    continue
                row = cumulative[api].tolist()
                samples.extend([Sample(bucket, lbl, v) for lbl, v in zip(labels[0], row)])
                samples.append(Sample(count, labels[1], row[-1]))
                s = int(block[api, len(le)])
                samples.append(Sample(total, labels[1], s / 1000 if times else s))
            return f
        if kind == "histogram":
            f = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
            at = source[1] * TIME_HIST_WORDS
            h = _histogram_family(metric, t.histograms[at : at + TIME_HIST_WORDS], [])
            if h is not None:
                f.add_metric([], h[0], h[1])
            else:
                f.add_metric([], [(b, 0) for b in _TIME_LE], 0)
            return f
        if kind == "topic":
            col = source[1]
            f = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
            for name in sorted(t.topics):
                if existing is None or name in existing:
                    f.add_metric([name], int(t.topics[name][col]))
            f.samples.append(Sample(f.name + "_total", {}, float(t.all_topics[col])))
            return f
        if kind == "counter":
            return CounterMetricFamily(metric.name, metric.help, value=int(t.counters[source[1]]))
        if kind == "gauge":
            return GaugeMetricFamily(metric.name, metric.help, value=t.gauge(metric, source[1]))
        if kind == "purgatory":
            f = GaugeMetricFamily(metric.name, metric.help, labels=metric.labels)
            f.add_metric(["Produce"], int(t.gauges[Gauge.PURGATORY_PRODUCE]))
            f.add_metric(["Fetch"], int(t.gauges[Gauge.PURGATORY_FETCH]))
            return f
        if kind == "listener":
            col = source[1]
            make = GaugeMetricFamily if metric.kind == GAUGE else CounterMetricFamily
            f = make(metric.name, metric.help, labels=metric.labels)
            for (listener, processor), values in sorted(t.listeners.items()):
                if processor.startswith("handler-"):
                    continue
                f.add_metric([listener, processor], int(values[col]))
            return f
        raise ValueError(f"{metric.name}: unknown source {source}")


assert all(m.kind in (COUNTER, GAUGE, HISTOGRAM) for m in CATALOG)
