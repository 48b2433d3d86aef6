# cython: language_level=3
"""The counting done on the request path, in C: one call per request or per partition.

Compiled twin of hpbroker/metrics/_pystats.py (same interface, same arithmetic; parity test
tests/metrics/test_stats_parity.py). Adds to one region (hpbroker/metrics/layout.py) through an
int64 memoryview of it.

Who may touch: the process the region belongs to.
"""

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
    request_histogram_at,
)

cdef enum:
    NT = 16
    NS = 9

cdef long long _times[NT]
cdef long long _sizes[NS]
for _i in range(NT):
    _times[_i] = TIME_BUCKETS_US[_i]
for _i in range(NS):
    _sizes[_i] = SIZE_BUCKETS[_i]
assert len(TIME_BUCKETS_US) == NT and len(SIZE_BUCKETS) == NS

cdef Py_ssize_t _t0 = request_histogram_at(0)
cdef Py_ssize_t _req_bytes = request_histogram_at(6)
cdef Py_ssize_t _resp_bytes = request_histogram_at(7)
cdef Py_ssize_t _tw = TIME_HIST_WORDS
cdef Py_ssize_t _api_words = API_WORDS
cdef Py_ssize_t _requests_at = REQUESTS_AT
cdef Py_ssize_t _max_api = MAX_API
cdef Py_ssize_t _versions = VERSIONS
cdef Py_ssize_t _topics_at = TOPICS_AT + TOPIC_COLUMNS_AT
cdef Py_ssize_t _topic_words = TOPIC_WORDS
cdef Py_ssize_t _histograms_at = HISTOGRAMS_AT
cdef Py_ssize_t _counters_at = COUNTERS_AT

# TopicColumn
cdef enum:
    BYTES_IN = 0
    MESSAGES_IN = 2
    TOTAL_PRODUCE_REQUESTS = 4


cdef class Recorder:
    cdef long long[::1] w
    cdef public object words

    def __init__(self, words):
        self.words = words
        self.w = words

    cdef inline void _time(self, Py_ssize_t at, long long us) noexcept:
        cdef int i = 0
        if us < 0:
            us = 0
        while i < NT and us > _times[i]:
            i += 1
        self.w[at + i] += 1
        self.w[at + NT + 1] += us

    cdef inline void _size(self, Py_ssize_t at, long long n) noexcept:
        cdef int i = 0
        while i < NS and n > _sizes[i]:
            i += 1
        self.w[at + i] += 1
        self.w[at + NS + 1] += n

    def request(self, tuple meta, long long response_bytes, long long released_ns, long long sent_ns):
        cdef long long api = meta[0]
        cdef long long version = meta[1]
        cdef long long request_bytes = meta[2]
        cdef long long received = meta[3]
        cdef long long start = meta[4]
        cdef long long local = meta[5]
        cdef long long remote = meta[6]
        cdef Py_ssize_t base
        if api < 0 or api >= _max_api:
            return
        base = _requests_at + api * _api_words
        if version < 0:
            version = 0
        elif version >= _versions:
            version = _versions - 1
        self.w[base + version] += 1
        self._time(base + _t0, (sent_ns - received) // 1000)
        if start >= 0:
            self._time(base + _t0 + _tw, (start - received) // 1000)
            self._time(base + _t0 + 2 * _tw, (local - start) // 1000)
            self._time(base + _t0 + 3 * _tw, (remote - local) // 1000)
        self._time(base + _t0 + 4 * _tw, (released_ns - remote) // 1000)
        self._time(base + _t0 + 5 * _tw, (sent_ns - released_ns) // 1000)
        self._size(base + _req_bytes, request_bytes)
        self._size(base + _resp_bytes, response_bytes)

    def handled(self, long long api, long long pushed_us32, long long start_ns, long long local_ns, long long remote_ns):
        cdef Py_ssize_t base
        if api < 0 or api >= _max_api:
            return
        base = _requests_at + api * _api_words
        self._time(base + _t0 + _tw, ((start_ns // 1000) - pushed_us32) & 0xFFFFFFFF)
        self._time(base + _t0 + 2 * _tw, (local_ns - start_ns) // 1000)
        self._time(base + _t0 + 3 * _tw, (remote_ns - local_ns) // 1000)

    def topic_add(self, Py_ssize_t slot, Py_ssize_t column, long long n):
        cdef Py_ssize_t at = _topics_at + column
        if slot:
            self.w[at + slot * _topic_words] += n
        self.w[at] += n

    def produced(self, Py_ssize_t slot, long long nbytes, long long records):
        cdef Py_ssize_t r
        if slot:
            r = _topics_at + slot * _topic_words
            self.w[r + BYTES_IN] += nbytes
            self.w[r + MESSAGES_IN] += records
            self.w[r + TOTAL_PRODUCE_REQUESTS] += 1
        r = _topics_at
        self.w[r + BYTES_IN] += nbytes
        self.w[r + MESSAGES_IN] += records
        self.w[r + TOTAL_PRODUCE_REQUESTS] += 1

    def observe(self, Py_ssize_t histogram, long long us):
        self._time(_histograms_at + histogram * _tw, us)

    def count(self, Py_ssize_t counter, long long n=1):
        self.w[_counters_at + counter] += n
