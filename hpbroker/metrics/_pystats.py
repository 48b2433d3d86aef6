"""Pure-Python twin of cython/metrics/_cstats.pyx: the counting done on the request path.

``Recorder`` adds to one region (layout.py) through an int64 memoryview of it. Its methods are
called once per request (``request``, ``handled``) or once per partition of a request
(``produced``, ``topic_add``), never per record; the compiled module does the same arithmetic
in C in one call each.

Who may touch: the process the region belongs to.
"""

from __future__ import annotations

from hpbroker.metrics.layout import (
    API_WORDS,
    COUNTERS_AT,
    HISTOGRAMS_AT,
    MAX_API,
    REQUESTS_AT,
    SIZE_BUCKETS,
    TIME_BUCKETS_US,
    TIME_HIST_WORDS,
    TOPIC_COLUMNS_AT,
    TOPIC_WORDS,
    TOPICS_AT,
    VERSIONS,
    TopicColumn,
    request_histogram_at,
)

_TIMES = [request_histogram_at(h) for h in range(6)]
_REQUEST_BYTES = request_histogram_at(6)
_RESPONSE_BYTES = request_histogram_at(7)
_NT = len(TIME_BUCKETS_US)
_NS = len(SIZE_BUCKETS)
_U32 = 0xFFFFFFFF


def _bucket(bounds, n: int, value: int) -> int:
    i = 0
    while i < n and value > bounds[i]:
        i += 1
    return i  # n: the +Inf bucket


class Recorder:
    def __init__(self, words):
        self.words = words  # memoryview, format "q"

    def _time(self, at: int, us: int) -> None:
        if us < 0:
            us = 0
        w = self.words
        w[at + _bucket(TIME_BUCKETS_US, _NT, us)] += 1
        w[at + _NT + 1] += us

    def _size(self, at: int, n: int) -> None:
        w = self.words
        w[at + _bucket(SIZE_BUCKETS, _NS, n)] += 1
        w[at + _NS + 1] += n

    def request(self, meta, response_bytes: int, released_ns: int, sent_ns: int) -> None:
        """One answered request. ``meta``: (api key, version, request bytes, received, start,
        local done, remote done), times in monotonic ns; start < 0 for a request another process
        handled (its ``handled`` counts queue, local and remote time there), whose remote done
        is when that process pushed the answer."""
        api, version, request_bytes, received, start, local, remote = meta
        if not 0 <= api < MAX_API:
            return
        base = REQUESTS_AT + api * API_WORDS
        self.words[base + min(max(version, 0), VERSIONS - 1)] += 1
        self._time(base + _TIMES[0], (sent_ns - received) // 1000)
        if start >= 0:
            self._time(base + _TIMES[1], (start - received) // 1000)
            self._time(base + _TIMES[2], (local - start) // 1000)
            self._time(base + _TIMES[3], (remote - local) // 1000)
        self._time(base + _TIMES[4], (released_ns - remote) // 1000)
        self._time(base + _TIMES[5], (sent_ns - released_ns) // 1000)
        self._size(base + _REQUEST_BYTES, request_bytes)
        self._size(base + _RESPONSE_BYTES, response_bytes)

    def handled(self, api: int, pushed_us32: int, start_ns: int, local_ns: int, remote_ns: int) -> None:
        """A request handled here that another process received: request queue (from
        ``pushed_us32``, the low 32 bits of its monotonic microseconds when it was pushed to
        us), local and remote time."""
        if not 0 <= api < MAX_API:
            return
        base = REQUESTS_AT + api * API_WORDS
        self._time(base + _TIMES[1], ((start_ns // 1000) - pushed_us32) & _U32)
        self._time(base + _TIMES[2], (local_ns - start_ns) // 1000)
        self._time(base + _TIMES[3], (remote_ns - local_ns) // 1000)

    def topic_add(self, slot: int, column: int, n: int) -> None:
        """``n`` more in ``column`` of topic ``slot`` and of every topic's row (0)."""
        w = self.words
        at = TOPICS_AT + TOPIC_COLUMNS_AT + column
        if slot:
            w[at + slot * TOPIC_WORDS] += n
        w[at] += n

    def produced(self, slot: int, nbytes: int, records: int) -> None:
        """A batch of ``records`` in ``nbytes`` appended to a partition of topic ``slot``."""
        w = self.words
        at = TOPICS_AT + TOPIC_COLUMNS_AT
        for row in (slot, 0) if slot else (0,):
            r = at + row * TOPIC_WORDS
            w[r + TopicColumn.BYTES_IN] += nbytes
            w[r + TopicColumn.MESSAGES_IN] += records
            w[r + TopicColumn.TOTAL_PRODUCE_REQUESTS] += 1

    def observe(self, histogram: int, us: int) -> None:
        self._time(HISTOGRAMS_AT + histogram * TIME_HIST_WORDS, us)

    def count(self, counter: int, n: int = 1) -> None:
        self.words[COUNTERS_AT + counter] += n
