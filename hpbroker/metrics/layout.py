"""The byte layout of one process's statistics region, and the indexes into it.

Every broker process counts into a region of its own (one writer, no locks); the metrics
endpoint reads every region and adds them up (collector.py). In the in-process topology the one
region is ordinary memory; in the multi-process topology the regions are slices of the ``stats``
shared-memory segment (server/multiproc/topology.py), one per processor and handler, so a scrape
reads them from another process without asking anyone.

A region is little-endian int64 words:

    header          HEADER_WORDS words
        0  magic          MAGIC once the region was set up (a reader skips a region without it)
        1  role           IN_PROCESS, PROCESSOR or HANDLER
        2  index          the processor's or handler's index (0 in-process)
        3  pid            the process writing it now
        4  topic slots    slots of the topic table in use (slot 0, the all-topics row, included)
        5  listeners      rows of the listener table in use
        6  last tick      monotonic ns of the owner's last gauge update
    requests        MAX_API blocks of API_WORDS, block k for api key k (FETCH_FOLLOWER: Fetch
                    from a replica, as Kafka's FetchFollower), each:
        VERSIONS words      requests answered, by api version (RequestsPerSec)
        6 time histograms   TOTAL, REQUEST_QUEUE, LOCAL, REMOTE, RESPONSE_QUEUE, RESPONSE_SEND
        2 size histograms   REQUEST_BYTES, RESPONSE_BYTES
    histograms      NAMED_HISTOGRAMS time histograms (Histogram: log flush, elections ...)
    counters        COUNTERS words (Counter: ISR shrinks and expands ...)
    gauges          GAUGES words (Gauge: partition count, purgatory sizes, idle ratios ...)
    listeners       LISTENERS rows of LISTENER_WORDS: name length, name (LISTENER_NAME_BYTES,
                    UTF-8), then ListenerColumn counters
    topics          TOPIC_SLOTS rows of TOPIC_WORDS: name length, name (TOPIC_NAME_BYTES,
                    UTF-8), then TopicColumn counters; row 0 has no name: every topic's sum

A histogram is its buckets' counts (not cumulative; upper bounds TIME_BUCKETS_US or
SIZE_BUCKETS), the +Inf bucket, then the sum of the values observed (microseconds or bytes); its
count is the sum of its buckets.

Publication: the owner writes a row's name, then its length, then raises the header's count, one
aligned 8-byte store each; a reader takes rows below the count and names whose length is set.
Counters only grow (a reader may see one a moment before another: a scrape is not a snapshot
of one instant, as in Kafka). A restarted process takes its region over as it is (``attach``):
its counters go on from where its predecessor left them, so sums across processes never go back.

Crash story: nothing here is durable; the regions live as long as the broker's shared memory.

Who may touch: the process a region belongs to writes it; the metrics endpoint only reads.
"""

from __future__ import annotations

import enum

MAGIC = 0x6870_6273_7461_7431  # "hpbstat1"
IN_PROCESS, PROCESSOR, HANDLER = 1, 2, 3

HEADER_WORDS = 16
H_MAGIC, H_ROLE, H_INDEX, H_PID, H_TOPICS, H_LISTENERS, H_LAST_TICK = range(7)

#: upper bounds of the time histograms, microseconds (their exposition is in milliseconds)
TIME_BUCKETS_US = (
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    5_000_000,
    30_000_000,
)
#: upper bounds of the size histograms, bytes
SIZE_BUCKETS = tuple(256 << (2 * i) for i in range(9))  # 256 B ... 16 MiB, powers of 4
TIME_HIST_WORDS = len(TIME_BUCKETS_US) + 2  # buckets, +Inf, sum
SIZE_HIST_WORDS = len(SIZE_BUCKETS) + 2

MAX_API = 96
FETCH_FOLLOWER = MAX_API - 1  # Fetch with a replica id: Kafka's request="FetchFollower"
VERSIONS = 32


class RequestHistogram(enum.IntEnum):
    """The histograms of each API's block (Kafka's RequestMetrics)."""

    TOTAL = 0
    REQUEST_QUEUE = 1
    LOCAL = 2
    REMOTE = 3
    RESPONSE_QUEUE = 4
    RESPONSE_SEND = 5
    REQUEST_BYTES = 6
    RESPONSE_BYTES = 7


TIME_HISTOGRAMS = 6  # the first six are times
API_WORDS = VERSIONS + TIME_HISTOGRAMS * TIME_HIST_WORDS + 2 * SIZE_HIST_WORDS


def request_histogram_at(h: int) -> int:
    """Word offset of histogram ``h`` in an API block."""
    if h < TIME_HISTOGRAMS:
        return VERSIONS + h * TIME_HIST_WORDS
    return VERSIONS + TIME_HISTOGRAMS * TIME_HIST_WORDS + (h - TIME_HISTOGRAMS) * SIZE_HIST_WORDS


class Histogram(enum.IntEnum):
    """Time histograms of their own (milliseconds in the exposition)."""

    LOG_FLUSH = 0  # kafka.log:type=LogFlushStats,name=LogFlushRateAndTimeMs
    LEADER_ELECTION = 1  # kafka.controller:type=ControllerStats,name=LeaderElectionRateAndTimeMs
    CONTROLLER_CHANGE = 2  # kafka.controller:type=ControllerStats,name=ControllerChangeRateAndTimeMs


NAMED_HISTOGRAMS = 8


class Counter(enum.IntEnum):
    """Counters of their own (monotonic: only ``count`` adds to them)."""

    ISR_SHRINKS = 0
    ISR_EXPANDS = 1
    UNCLEAN_LEADER_ELECTIONS = 2


COUNTERS = 64


class Gauge(enum.IntEnum):
    """Gauges, set by their owner at its maintenance tick (``set_gauge``)."""

    PARTITION_COUNT = 0
    LEADER_COUNT = 1
    UNDER_REPLICATED = 2
    UNDER_MIN_ISR = 3
    AT_MIN_ISR = 4
    OFFLINE_REPLICAS = 5
    ACTIVE_CONTROLLER = 6
    OFFLINE_PARTITIONS = 7
    GLOBAL_PARTITIONS = 8
    GLOBAL_TOPICS = 9
    PURGATORY_PRODUCE = 10
    PURGATORY_FETCH = 11
    GROUPS = 12
    GROUPS_PREPARING_REBALANCE = 13
    GROUPS_COMPLETING_REBALANCE = 14
    GROUPS_STABLE = 15
    GROUPS_DEAD = 16
    GROUPS_EMPTY = 17
    OFFSETS = 18
    # idle ratios, in millionths (0 .. 1,000,000): the owner's share of wall time off the CPU
    NETWORK_IDLE_PPM = 19
    HANDLER_IDLE_PPM = 20


GAUGES = 64

LISTENERS = 8
LISTENER_NAME_BYTES = 64
LISTENER_WORDS = 16


class ListenerColumn(enum.IntEnum):
    """Counters of each listener row (Kafka's socket-server-metrics, per listener)."""

    CONNECTIONS = 0  # connection-count: a gauge, connections open now
    CREATED = 1  # connection-creation-total
    CLOSED = 2  # connection-close-total
    FAILED_AUTHENTICATION = 3  # failed-authentication-total
    SUCCESSFUL_AUTHENTICATION = 4  # successful-authentication-total


LISTENER_COLUMNS_AT = 1 + LISTENER_NAME_BYTES // 8

TOPIC_SLOTS = 4096
TOPIC_NAME_BYTES = 256  # Kafka's topic names have at most 249 characters
TOPIC_WORDS = 48


class TopicColumn(enum.IntEnum):
    """Counters of each topic row (Kafka's BrokerTopicMetrics)."""

    BYTES_IN = 0
    BYTES_OUT = 1
    MESSAGES_IN = 2
    BYTES_REJECTED = 3
    TOTAL_PRODUCE_REQUESTS = 4
    FAILED_PRODUCE_REQUESTS = 5
    TOTAL_FETCH_REQUESTS = 6
    FAILED_FETCH_REQUESTS = 7


TOPIC_COLUMNS_AT = 1 + TOPIC_NAME_BYTES // 8

REQUESTS_AT = HEADER_WORDS
HISTOGRAMS_AT = REQUESTS_AT + MAX_API * API_WORDS
COUNTERS_AT = HISTOGRAMS_AT + NAMED_HISTOGRAMS * TIME_HIST_WORDS
GAUGES_AT = COUNTERS_AT + COUNTERS
LISTENERS_AT = GAUGES_AT + GAUGES
TOPICS_AT = LISTENERS_AT + LISTENERS * LISTENER_WORDS
REGION_WORDS = TOPICS_AT + TOPIC_SLOTS * TOPIC_WORDS
REGION_BYTES = REGION_WORDS * 8


def api_at(api_key: int) -> int:
    return REQUESTS_AT + api_key * API_WORDS


def topic_at(slot: int) -> int:
    return TOPICS_AT + slot * TOPIC_WORDS


def listener_at(row: int) -> int:
    return LISTENERS_AT + row * LISTENER_WORDS
