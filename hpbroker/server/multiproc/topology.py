"""The shared structures of a multi-process broker, created by the supervisor before any fork.

Segments (files under /dev/shm, named ``hpbroker-<supervisor pid>-<what>``, so an operator can
see them and a leftover of a killed supervisor is recognised and removed at the next start):

``control``: little-endian int64 words
    word 0                     metadata generation: the controller (handler 0) bumps it after
                               rewriting ``__topics.json`` and publishing the ``metadata``
                               snapshot; every other process reloads the registry from the
                               snapshot when it sees it change
    word 1                     in a cluster, the broker's phase (``CLUSTER_*`` below): the
                               supervisor asks handler 0 to register once the processors listen,
                               and to shut down in a controlled way before it stops them; handler 0
                               says when it is serving, refused to start, or is done
    word 2                     1 once the supervisor stops its children: in a cluster a child
                               stops on SIGTERM only then (or when the supervisor is gone), so a
                               SIGTERM to the whole process group leaves the supervisor to stop
                               them in order, after the controlled shutdown
    word 8 + 8*h + 0           handler h incarnation (each new handler process bumps it after
                               discarding what its predecessor left in the request rings)
    word 8 + 8*h + 1           metadata generation handler h has applied (it writes it; the
                               controller waits for all before answering CreateTopics & co.)
    word 8 + 8*H + 8*p + 0     processor p incarnation (supervisor)
    word 8 + 8*H + 8*p + 1     1 while processor p has parked long-poll Fetches (it writes it;
                               handlers write its eventfd after appending, so the wait ends at
                               once instead of at the processor's next table poll)
    then the partition table (server/multiproc/partition_table.py), aligned to 64 bytes
    then P regions of connection counts (server/connection_quotas.py), aligned to 64 bytes

``metadata``: the topic registry as the controller last published it (two slots, byte layout
in server/multiproc/metadata_snapshot.py); processors answer Metadata and FindCoordinator from it and
the other handlers apply it, whenever the metadata generation moves

``stats``: H + P statistics regions (hpbroker/metrics/layout.py), handler h's at h, processor
p's at H + p: what each process counts, read by the metrics process; a restarted child takes its
predecessor's region over

``snapshots``: H two-slot publications (metadata_snapshot.py's layout) of what each handler's
coordinators and partitions publish for the metrics endpoint (consumer lag, log sizes:
hpbroker/metrics/snapshot.py), JSON, rewritten every second while the endpoint is on

``rings``: 2 * P * H rings (server/multiproc/_pyring.py layout), request rings first:
    request ring (p, h) = index p*H + h        producer: processor p, consumer: handler h
    response ring (p, h) = P*H + p*H + h       producer: handler h, consumer: processor p
One ring per pair and direction keeps every ring single-producer/single-consumer.

Wake-ups: one eventfd per handler ("a request ring has records") and one per processor ("a
response ring has records, or a request ring has space again"), created here and inherited by
the children through fork. An eventfd is a counter: many writers, one reader, no data.

ISR channels: in a cluster, one SOCK_SEQPACKET socket pair per handler h > 0, through which it
asks handler 0 (the broker's ZooKeeper session) to write the ISR changes of the partitions it
leads (server/multiproc/isr_channel.py); created here, inherited like the eventfds.

Crash story: everything here is volatile and rebuilt at start-up; what must survive is in the
logs. The supervisor keeps every mapping and descriptor, so a restarted child inherits the same
segments and eventfds; restarts are told apart by the incarnation words.

Who may touch: see each region above; the supervisor creates and unlinks the segments.
"""

from __future__ import annotations

import glob
import logging
import mmap
import os

import numpy as np

from hpbroker import environment
from hpbroker.metadata.cluster_registry import ClusterRegistry
from hpbroker.metadata.topics import TopicRegistry
from hpbroker.metrics.layout import HANDLER, REGION_BYTES
from hpbroker.server.connection_quotas import region_words
from hpbroker.server.multiproc import isr_channel, wakeups
from hpbroker.server.multiproc.metadata_snapshot import MetadataSnapshot, snapshot_bytes
from hpbroker.server.multiproc.partition_table import PartitionTable, table_bytes
from hpbroker.server.multiproc.ring import Ring, ring_bytes

log = logging.getLogger(__name__)

SHM_DIR = "/dev/shm"
PREFIX = "hpbroker-"
# records up to 8 MiB: a produce request of several 1 MiB batches. Tests shrink the rings through
# the environment (HPBROKER_REQUEST_RING_BYTES, a power of two) to exercise back-pressure.
REQUEST_RING_BYTES = int(environment.value("HPBROKER_REQUEST_RING_BYTES"))
RESPONSE_RING_BYTES = 1 << 20  # answers forwarded by handlers are small (a consumer's Fetch never uses them)
# In a cluster a follower's Fetch is answered by the leading handler through its response ring:
# room for a record of 2 MiB (max_record is half the ring), above the default message.max.bytes,
# so the first batch KIP-74 sends whole fits (REPLICA_FETCH_MAX_BYTES, processor.py)
CLUSTER_RESPONSE_RING_BYTES = 4 << 20
SLOTS_PER_HANDLER = 4096
# The smallest request ring the supervisor shrinks to when /dev/shm is short: records up to
# 2 MiB, so librdkafka's largest Produce request (message.max.bytes 1,000,000) still fits.
MIN_REQUEST_RING_BYTES = 4 << 20
# Share of the free /dev/shm space the rings may take: tmpfs pages are allocated when first
# touched, so rings that do not fit would not fail at start-up but kill a process with SIGBUS
# later (a container's default /dev/shm is 64 MiB; 2/2 at full size needs 68 MiB).
SHM_SHARE = 0.5
CONTROL_WORDS_FIXED = 8
# Room for one registry snapshot (two are kept); tmpfs pages are allocated only as far as the
# registry reaches. A registry larger than this is read from __topics.json instead.
METADATA_SNAPSHOT_BYTES = int(environment.value("HPBROKER_METADATA_SNAPSHOT_BYTES"))
WORDS_PER_CHILD = 8
# Room for one handler's published lag and log rows (two are kept; tmpfs pages are allocated only
# as far as the rows reach): some 50,000 committed offsets and partitions. Past it the rows are
# left out of the endpoint, with a warning.
STATS_SNAPSHOT_BYTES = 4 << 20
CLUSTER_PHASE_WORD = 1
STOP_ORDERED_WORD = 2
#: word 1's values: supervisor -> handler 0 (REGISTER, SHUTDOWN), handler 0 -> supervisor (the others)
CLUSTER_STARTING, CLUSTER_REGISTER, CLUSTER_SERVING, CLUSTER_REFUSED, CLUSTER_SHUTDOWN, CLUSTER_SHUT_DOWN = range(6)


def _create_segment(path: str, size: int) -> mmap.mmap:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, size)
        return mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)


class SharedMemoryTooSmall(RuntimeError):
    """/dev/shm cannot hold the rings of the requested topology."""


def shm_free_bytes() -> int:
    st = os.statvfs(SHM_DIR)
    return st.f_bavail * st.f_frsize


def plan_request_ring_bytes(
    processors: int,
    handlers: int,
    free_bytes: int,
    *,
    wanted: int = REQUEST_RING_BYTES,
    response_ring_bytes: int = RESPONSE_RING_BYTES,
) -> int:
    """The request ring capacity for this topology: ``wanted``, halved until every pair's two
    rings fit in SHM_SHARE of ``free_bytes``, never below MIN_REQUEST_RING_BYTES (then
    SharedMemoryTooSmall, with what to do about it)."""
    pairs = processors * handlers
    per_pair = int(free_bytes * SHM_SHARE) // pairs - ring_bytes(response_ring_bytes)
    size = wanted
    while size > MIN_REQUEST_RING_BYTES and ring_bytes(size) > per_pair:
        size //= 2
    if ring_bytes(size) > per_pair:
        need = pairs * (ring_bytes(min(wanted, MIN_REQUEST_RING_BYTES)) + ring_bytes(response_ring_bytes))
        raise SharedMemoryTooSmall(
            f"{processors} processors x {handlers} handlers need at least {need / 2**20:.0f} MiB of "
            f"{SHM_DIR} for their rings (at most {SHM_SHARE:.0%} of the {free_bytes / 2**20:.0f} MiB "
            f"free is used): give {SHM_DIR} more room (docker run --shm-size), use fewer "
            f"processes (--processors/--handlers), or run in-process (--handlers 0)"
        )
    return size


def remove_stale_segments() -> list[str]:
    """Unlink segments left by a supervisor that no longer runs (it was SIGKILLed)."""
    removed = []
    for path in glob.glob(os.path.join(SHM_DIR, PREFIX + "*")):
        try:
            pid = int(os.path.basename(path)[len(PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
            continue  # still alive: not ours to touch
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        try:
            os.unlink(path)
            removed.append(path)
        except OSError:
            pass
    return removed


def control_layout(processors: int, handlers: int, slots_per_handler: int = SLOTS_PER_HANDLER):
    """Where the ``control`` segment's regions start: (partition table, connection counts, size)."""
    table_at = ((CONTROL_WORDS_FIXED + WORDS_PER_CHILD * (handlers + processors)) * 8 + 63) & ~63
    counts_at = (table_at + table_bytes(handlers, slots_per_handler) + 63) & ~63
    return table_at, counts_at, counts_at + processors * region_words() * 8


class Topology:
    def __init__(
        self,
        processors: int,
        handlers: int,
        *,
        request_ring_bytes: int | None = None,
        response_ring_bytes: int = RESPONSE_RING_BYTES,
        slots_per_handler: int = SLOTS_PER_HANDLER,
        cluster: bool = False,
    ):
        if processors < 1 or handlers < 1:
            raise ValueError("the multi-process topology needs at least one processor and one handler")
        if request_ring_bytes is None:  # as large as configured, as small as /dev/shm requires
            free = shm_free_bytes()
            request_ring_bytes = plan_request_ring_bytes(
                processors, handlers, free, response_ring_bytes=response_ring_bytes
            )
            if request_ring_bytes < REQUEST_RING_BYTES:
                log.warning(
                    "%s has %d MiB free: request rings shrunk to %d MiB, so a request above "
                    "%d MiB closes its connection in this topology",
                    SHM_DIR,
                    free >> 20,
                    request_ring_bytes >> 20,
                    request_ring_bytes >> 21,
                )
        self.processors, self.handlers = processors, handlers
        self.request_ring_bytes, self.response_ring_bytes = request_ring_bytes, response_ring_bytes
        self.slots_per_handler = slots_per_handler
        base = os.path.join(SHM_DIR, f"{PREFIX}{os.getpid()}-")
        self.paths = [base + "control", base + "rings", base + "metadata", base + "stats", base + "snapshots"]
        self._control_words = CONTROL_WORDS_FIXED + WORDS_PER_CHILD * (handlers + processors)
        self._table_at, self._counts_at, size = control_layout(processors, handlers, slots_per_handler)
        self._counts_bytes = size - self._counts_at
        self.control_mm = _create_segment(self.paths[0], size)
        self._req_size = ring_bytes(request_ring_bytes)
        self._resp_size = ring_bytes(response_ring_bytes)
        n = processors * handlers
        self.rings_mm = _create_segment(self.paths[1], n * (self._req_size + self._resp_size))
        self.handler_efds = [os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC) for _ in range(handlers)]
        self.processor_efds = [os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC) for _ in range(processors)]
        self.isr_channels = [isr_channel.channel_pair() for _ in range(handlers - 1)] if cluster else []
        self.control = np.ndarray((self._control_words,), dtype="<i8", buffer=self.control_mm)
        self.metadata_mm = _create_segment(self.paths[2], snapshot_bytes(METADATA_SNAPSHOT_BYTES))
        self.metadata = MetadataSnapshot(memoryview(self.metadata_mm), METADATA_SNAPSHOT_BYTES)
        self.stats_mm = _create_segment(self.paths[3], (handlers + processors) * REGION_BYTES)
        self.snapshots_mm = _create_segment(self.paths[4], handlers * snapshot_bytes(STATS_SNAPSHOT_BYTES))

    def isr_channel(self, h: int):
        """Handler h's end of its ISR channel (h > 0), or handler 0's ends of all (h == 0)."""
        if h == 0:
            return [pair[0] for pair in self.isr_channels]
        return self.isr_channels[h - 1][1]

    # views (built in each child after the fork) -----------------------------------------------
    def table(self) -> PartitionTable:
        return PartitionTable(memoryview(self.control_mm)[self._table_at :], self.handlers, self.slots_per_handler)

    def connection_counts(self) -> memoryview:
        """Every processor's region of connection counts, as int64 words (SharedCounts)."""
        return memoryview(self.control_mm)[self._counts_at : self._counts_at + self._counts_bytes].cast("q")

    def stats_region(self, role: int, index: int) -> memoryview:
        """The statistics region of handler ``index`` (role HANDLER) or processor ``index``."""
        at = (index if role == HANDLER else self.handlers + index) * REGION_BYTES
        return memoryview(self.stats_mm)[at : at + REGION_BYTES]

    def stats_snapshot(self, h: int) -> MetadataSnapshot:
        """Handler ``h``'s publication of consumer lag and log sizes (hpbroker/metrics/snapshot.py)."""
        size = snapshot_bytes(STATS_SNAPSHOT_BYTES)
        return MetadataSnapshot(memoryview(self.snapshots_mm)[h * size : (h + 1) * size], STATS_SNAPSHOT_BYTES)

    def stats_regions(self) -> list[memoryview]:
        """Every process's statistics region (the metrics process reads them)."""
        return [
            memoryview(self.stats_mm)[i * REGION_BYTES : (i + 1) * REGION_BYTES]
            for i in range(self.handlers + self.processors)
        ]

    def request_ring(self, p: int, h: int) -> Ring:
        at = (p * self.handlers + h) * self._req_size
        return Ring(memoryview(self.rings_mm)[at : at + self._req_size])

    def response_ring(self, p: int, h: int) -> Ring:
        at = self.processors * self.handlers * self._req_size + (p * self.handlers + h) * self._resp_size
        return Ring(memoryview(self.rings_mm)[at : at + self._resp_size])

    # control words ----------------------------------------------------------------------------
    @property
    def metadata_generation(self) -> int:
        return int(self.control[0])

    def bump_metadata_generation(self) -> int:
        self.control[0] += 1
        return int(self.control[0])

    def publish_registry(self, registry) -> None:
        """Controller: ``registry`` (a TopicRegistry) becomes the snapshot; call before bumping
        the generation."""
        if not self.metadata.publish(registry.to_bytes()):
            log.warning(
                "the topic registry is larger than the %d MiB metadata snapshot: processors read %s instead",
                METADATA_SNAPSHOT_BYTES >> 20,
                registry.path,
            )

    def read_registry(self, path, cluster: bool = False):
        """The registry the controller last published (``path``: the file it keeps, read only
        when there is no snapshot or it did not fit). In a cluster (``cluster``): a
        ClusterRegistry, empty until handler 0 publishes the first one (there is no file)."""
        data = self.metadata.read()
        if cluster:
            return ClusterRegistry(path) if data is None else ClusterRegistry.from_bytes(path, data)
        return TopicRegistry(path) if data is None else TopicRegistry.from_bytes(path, data)

    @property
    def cluster_phase(self) -> int:
        return int(self.control[CLUSTER_PHASE_WORD])

    def set_cluster_phase(self, phase: int) -> None:
        self.control[CLUSTER_PHASE_WORD] = phase

    @property
    def stop_ordered(self) -> bool:
        return bool(self.control[STOP_ORDERED_WORD])

    def order_stop(self) -> None:
        """Supervisor: its children may act on SIGTERM from now on."""
        self.control[STOP_ORDERED_WORD] = 1

    def sigterm_handler(self, stop, cluster: bool, what: str):
        """A child's SIGTERM handler: ``stop()``; in a cluster only once the supervisor ordered
        the stop or is gone (a SIGTERM to the whole group reaches the children too, and the
        controlled shutdown needs them serving until the supervisor says)."""
        if not cluster:
            return stop
        supervisor = os.getppid()

        def on_sigterm():
            if self.stop_ordered or os.getppid() != supervisor:
                stop()
            else:
                log.info("%s: SIGTERM left to the supervisor, which stops its children in order", what)

        return on_sigterm

    def _handler_word(self, h: int, i: int) -> int:
        return CONTROL_WORDS_FIXED + WORDS_PER_CHILD * h + i

    def _processor_word(self, p: int, i: int) -> int:
        return CONTROL_WORDS_FIXED + WORDS_PER_CHILD * (self.handlers + p) + i

    def handler_incarnation(self, h: int) -> int:
        return int(self.control[self._handler_word(h, 0)])

    def bump_handler_incarnation(self, h: int) -> None:
        self.control[self._handler_word(h, 0)] += 1

    def handler_seen_generation(self, h: int) -> int:
        return int(self.control[self._handler_word(h, 1)])

    def set_handler_seen_generation(self, h: int, gen: int) -> None:
        self.control[self._handler_word(h, 1)] = gen

    def processor_incarnation(self, p: int) -> int:
        return int(self.control[self._processor_word(p, 0)])

    def bump_processor_incarnation(self, p: int) -> None:
        self.control[self._processor_word(p, 0)] += 1

    def processor_has_parked_fetches(self, p: int) -> bool:
        return bool(self.control[self._processor_word(p, 1)])

    def set_processor_has_parked_fetches(self, p: int, parked: bool) -> None:
        self.control[self._processor_word(p, 1)] = 1 if parked else 0

    # wake-ups ---------------------------------------------------------------------------------
    wake = staticmethod(wakeups.wake)
    drain = staticmethod(wakeups.drain)

    def unlink(self) -> None:
        """Supervisor, at shutdown: remove the names; mappings die with the processes."""
        for path in self.paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
