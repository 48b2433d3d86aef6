"""What a broker process counts, and where: its region of statistics (layout.py).

``ProcessStats`` is the one object a process counts through: the request path's ``recorder``
(compiled, cython/metrics/_cstats.pyx, or its pure twin), the topic rows (BrokerTopicMetrics),
the listener rows (socket-server-metrics), and the counters, gauges and histograms the catalog
(catalog.py) names. ``LocalBroker`` and ``ProcessorBroker`` hold one as ``broker.stats``; the
server's connections take its recorder.

A broker without a metrics endpoint still counts (a few additions per request, in C): the
figures are there the moment a scrape asks, and no code path depends on a setting.

Who may touch: the event loop of the process the region belongs to (``set_gauge`` too: the
owner's maintenance tick sets them).
"""

from __future__ import annotations

import logging
import os

from hpbroker._speedups import load
from hpbroker.metrics.layout import (
    GAUGES,
    GAUGES_AT,
    H_INDEX,
    H_LISTENERS,
    H_MAGIC,
    H_PID,
    H_ROLE,
    H_TOPICS,
    IN_PROCESS,
    LISTENER_COLUMNS_AT,
    LISTENER_NAME_BYTES,
    LISTENERS,
    MAGIC,
    REGION_BYTES,
    TOPIC_NAME_BYTES,
    TOPIC_SLOTS,
    Histogram,
    ListenerColumn,
    TopicColumn,
    listener_at,
    topic_at,
)

_impl = load("hpbroker.metrics._cstats", "hpbroker.metrics._pystats")
Recorder = _impl.Recorder

log = logging.getLogger(__name__)

DEFAULT_LISTENER = "PLAINTEXT"


def read_name(words, at: int, max_bytes: int) -> str | None:
    """The UTF-8 name stored at word ``at`` (length word, then bytes); None if unset."""
    n = int(words[at])
    if n <= 0 or n > max_bytes:
        return None
    return bytes(words.cast("B")[(at + 1) * 8 : (at + 1) * 8 + n]).decode("utf-8", "replace")


def _write_name(words, at: int, name: bytes) -> None:
    words.cast("B")[(at + 1) * 8 : (at + 1) * 8 + len(name)] = name
    words[at] = len(name)  # after the bytes: a reader takes the name once its length is set


class ProcessStats:
    def __init__(self, buf=None, *, role: int = IN_PROCESS, index: int = 0):
        """Count into ``buf`` (a writable buffer of REGION_BYTES: a shared-memory slice), or into
        memory of this process's own. A region a previous incarnation of this process left is
        taken over as it is (its counters go on, its topic rows keep their slots)."""
        if buf is None:
            buf = bytearray(REGION_BYTES)
        self.words = memoryview(buf).cast("q")
        w = self.words
        if w[H_MAGIC] != MAGIC:
            w[H_TOPICS] = 1  # row 0: every topic's sum
            w[H_LISTENERS] = 0
            w[H_ROLE], w[H_INDEX] = role, index
            w[H_MAGIC] = MAGIC
        w[H_PID] = os.getpid()
        self.recorder = Recorder(self.words)
        self._topics: dict[str, int] = {}
        for slot in range(1, int(w[H_TOPICS])):
            name = read_name(w, topic_at(slot), TOPIC_NAME_BYTES)
            if name is not None:
                self._topics[name] = slot
        self._listeners: dict[str, int] = {}
        for row in range(int(w[H_LISTENERS])):
            name = read_name(w, listener_at(row), LISTENER_NAME_BYTES)
            if name is not None:
                self._listeners[name] = row
                w[listener_at(row) + LISTENER_COLUMNS_AT + ListenerColumn.CONNECTIONS] = 0  # ours are gone
        for g in range(GAUGES):
            w[GAUGES_AT + g] = 0  # set again by this incarnation's first tick
        self._full_warned = False

    # topics (BrokerTopicMetrics) ---------------------------------------------------------------
    def topic_slot(self, topic: str) -> int:
        """The row of ``topic``; 0 (every topic's sum only) once the table is full."""
        slot = self._topics.get(topic)
        if slot is not None:
            return slot
        w = self.words
        slot = int(w[H_TOPICS])
        name = topic.encode("utf-8")
        if slot >= TOPIC_SLOTS or len(name) > TOPIC_NAME_BYTES:
            if not self._full_warned:
                self._full_warned = True
                log.warning("per-topic metrics hold %d topics: %s and later ones count in the totals only", slot, topic)
            return 0
        _write_name(w, topic_at(slot), name)
        w[H_TOPICS] = slot + 1
        self._topics[topic] = slot
        return slot

    def produced(self, topic: str, nbytes: int, records: int) -> None:
        """A batch appended for a client (BytesIn, MessagesIn, TotalProduceRequests)."""
        self.recorder.produced(self.topic_slot(topic), nbytes, records)

    def produce_failed(self, topic: str, nbytes: int) -> None:
        """A partition of a Produce refused (FailedProduceRequests, and BytesRejected)."""
        slot = self.topic_slot(topic)
        rec = self.recorder
        rec.topic_add(slot, TopicColumn.TOTAL_PRODUCE_REQUESTS, 1)
        rec.topic_add(slot, TopicColumn.FAILED_PRODUCE_REQUESTS, 1)
        if nbytes:
            rec.topic_add(slot, TopicColumn.BYTES_REJECTED, nbytes)

    def fetched(self, topic: str, nbytes: int, failed: bool = False) -> None:
        """A partition of a Fetch answered (TotalFetchRequests, BytesOut; FailedFetchRequests)."""
        slot = self.topic_slot(topic)
        rec = self.recorder
        rec.topic_add(slot, TopicColumn.TOTAL_FETCH_REQUESTS, 1)
        if failed:
            rec.topic_add(slot, TopicColumn.FAILED_FETCH_REQUESTS, 1)
        if nbytes:
            rec.topic_add(slot, TopicColumn.BYTES_OUT, nbytes)

    # listeners (socket-server-metrics) ---------------------------------------------------------
    def listener_row(self, listener: str | None = DEFAULT_LISTENER) -> int:
        listener = listener or DEFAULT_LISTENER
        row = self._listeners.get(listener)
        if row is not None:
            return row
        w = self.words
        row = int(w[H_LISTENERS])
        if row >= LISTENERS:
            return self._listeners.setdefault(listener, 0)  # past the table: the first row's
        _write_name(w, listener_at(row), listener.encode("utf-8")[:LISTENER_NAME_BYTES])
        w[H_LISTENERS] = row + 1
        self._listeners[listener] = row
        return row

    def listener_add(self, column: int, n: int = 1, listener: str | None = DEFAULT_LISTENER) -> None:
        """``n`` more in ``column`` (ListenerColumn) of ``listener``'s row."""
        self.words[listener_at(self.listener_row(listener)) + LISTENER_COLUMNS_AT + column] += n

    def connection_opened(self, listener: str | None = DEFAULT_LISTENER) -> None:
        at = listener_at(self.listener_row(listener)) + LISTENER_COLUMNS_AT
        self.words[at + ListenerColumn.CONNECTIONS] += 1
        self.words[at + ListenerColumn.CREATED] += 1

    def connection_closed(self, listener: str | None = DEFAULT_LISTENER) -> None:
        at = listener_at(self.listener_row(listener)) + LISTENER_COLUMNS_AT
        self.words[at + ListenerColumn.CONNECTIONS] -= 1
        self.words[at + ListenerColumn.CLOSED] += 1

    def authentication_failed(self, listener: str | None = DEFAULT_LISTENER) -> None:
        self.listener_add(ListenerColumn.FAILED_AUTHENTICATION, 1, listener)

    def authentication_succeeded(self, listener: str | None = DEFAULT_LISTENER) -> None:
        self.listener_add(ListenerColumn.SUCCESSFUL_AUTHENTICATION, 1, listener)

    # counters, gauges, histograms (catalog.py names them) --------------------------------------
    def count(self, counter: int, n: int = 1) -> None:
        self.recorder.count(counter, n)

    def log_flushed(self, us: int) -> None:
        """A partition's log flushed (fsynced) in ``us`` microseconds (LogFlushRateAndTimeMs)."""
        self.recorder.observe(Histogram.LOG_FLUSH, us)

    def observe_ms(self, histogram: int, ms: float) -> None:
        self.recorder.observe(histogram, int(ms * 1000))

    def set_gauge(self, gauge: int, value: int) -> None:
        self.words[GAUGES_AT + gauge] = int(value)

    def gauge(self, gauge: int) -> int:
        return int(self.words[GAUGES_AT + gauge])
