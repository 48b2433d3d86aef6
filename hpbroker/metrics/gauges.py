"""The gauges a process sets at its maintenance tick, from the state it owns.

``update_broker`` (a process holding partitions and group coordinators: the in-process broker,
each handler process): partition and leader counts, replication health (from the metadata
cache's leader and ISR of each partition held), the controller's counts (in the process that
is the controller), group counts by state, committed offsets, the produce and fetch purgatory
sizes. ``update_idle``: the share of wall time the process's event loop thread spent off the
CPU since the last tick (Kafka's idle ratios, from the thread's CPU time).

A tick walks the partitions and groups the process holds (a dict look-up each), once a
second; it runs only where the metrics endpoint is on (``metrics.port``).

Who may touch: the event loop of the process whose region is updated.
"""

from __future__ import annotations

import time

from hpbroker.coordinator.state import GroupState
from hpbroker.metrics.layout import Gauge

_STATE_GAUGES = {
    GroupState.PREPARING_REBALANCE: Gauge.GROUPS_PREPARING_REBALANCE,
    GroupState.COMPLETING_REBALANCE: Gauge.GROUPS_COMPLETING_REBALANCE,
    GroupState.STABLE: Gauge.GROUPS_STABLE,
    GroupState.DEAD: Gauge.GROUPS_DEAD,
    GroupState.EMPTY: Gauge.GROUPS_EMPTY,
}


def update_broker(broker, stats, *, controller: bool) -> None:
    """Set the replica manager's, controller's and group coordinator's gauges of ``broker`` (a
    LocalBroker); ``controller``: this process is where the node's controller runs. The
    controller's gauges are set while the metadata cache names this node the cluster's
    controller (a single node always is), and 0 otherwise, as Kafka reports them."""
    rm = broker.replica_manager
    md = broker.metadata
    node = broker.node.node_id
    leaders = under_replicated = under_min_isr = at_min_isr = 0
    settings = {}
    for topic, index in list(rm.partitions):
        state = md.partition_state(topic, index)
        if state is None or state.leader != node:
            continue
        leaders += 1
        isr = len(state.isr)
        if isr < len(state.replicas):
            under_replicated += 1
        min_isr = settings.get(topic)
        if min_isr is None:
            info = md.topic(topic)
            min_isr = settings[topic] = rm.produce_settings(info).min_insync_replicas if info is not None else 1
        if isr < min_isr:
            under_min_isr += 1
        elif isr == min_isr:
            at_min_isr += 1
    stats.set_gauge(Gauge.PARTITION_COUNT, len(rm.partitions))
    stats.set_gauge(Gauge.LEADER_COUNT, leaders)
    stats.set_gauge(Gauge.UNDER_REPLICATED, under_replicated)
    stats.set_gauge(Gauge.UNDER_MIN_ISR, under_min_isr)
    stats.set_gauge(Gauge.AT_MIN_ISR, at_min_isr)
    stats.set_gauge(Gauge.PURGATORY_FETCH, len(rm.fetch_purgatory))
    stats.set_gauge(Gauge.PURGATORY_PRODUCE, len(rm.produce_purgatory))
    active = controller and md.controller_id == node
    topics = list(md.topics) if active else []
    offline = 0
    for info in topics:
        offline += sum(1 for s in md.partition_states(info) if s.leader < 0)
    stats.set_gauge(Gauge.ACTIVE_CONTROLLER, 1 if active else 0)
    stats.set_gauge(Gauge.GLOBAL_TOPICS, len(topics))
    stats.set_gauge(Gauge.GLOBAL_PARTITIONS, sum(t.num_partitions for t in topics))
    stats.set_gauge(Gauge.OFFLINE_PARTITIONS, offline)
    groups = {g: 0 for g in _STATE_GAUGES.values()}
    total = offsets = 0
    for shard in list(broker.group_coordinator.shards.values()):
        for group in list(shard.group_manager.groups.values()):
            total += 1
            gauge = _STATE_GAUGES.get(group.state)
            if gauge is not None:
                groups[gauge] += 1
        offsets += sum(len(o) for o in shard.offset_manager.offsets.values())
    stats.set_gauge(Gauge.GROUPS, total)
    for gauge, n in groups.items():
        stats.set_gauge(gauge, n)
    stats.set_gauge(Gauge.OFFSETS, offsets)


class IdleClock:
    """The share of wall time the calling thread spent off the CPU between two ``sample``s."""

    def __init__(self):
        self._wall = time.monotonic()
        self._cpu = time.thread_time()

    def sample(self) -> float:
        wall, cpu = time.monotonic(), time.thread_time()
        elapsed = wall - self._wall
        busy = cpu - self._cpu
        self._wall, self._cpu = wall, cpu
        if elapsed <= 0:
            return 1.0
        return min(max(1.0 - busy / elapsed, 0.0), 1.0)


def update_idle(stats, clock: IdleClock, *gauges: int) -> None:
    ppm = int(clock.sample() * 1_000_000)
    for g in gauges:
        stats.set_gauge(g, ppm)
