"""What the partition owners and group coordinators publish for the metrics endpoint: consumer
lag, each partition's log figures, and the log dirs' disk space read at the scrape.

Theory of operation
-------------------
Consumer lag is computed where the committed offsets are, by the coordinators (as Burrow or
kafka-exporter report it, without asking over the protocol): at each maintenance tick, a
process holding group coordinators (the in-process broker, each handler process) takes every
committed offset of its groups and the high watermark of its partition (the replica manager's
own partitions; in a handler, another handler's from the shared partition table) and publishes
rows (group, topic, partition, committed offset, high watermark), with each group's member
count and, for the partitions it holds, log start and end offsets, size and segment count.

The in-process broker publishes the rows as a Python object (``Published``: the endpoint's
thread reads the reference); a handler publishes them as JSON in its slot of the ``snapshots``
shared segment (the registry's two-slot publication, server/multiproc/metadata_snapshot.py), read
by the metrics process at the scrape. The figures are as old as the last tick (a second).

Who may touch: the owner's event loop builds and publishes; the endpoint only reads.
"""

from __future__ import annotations

import json
import logging
import os

from prometheus_client.core import GaugeMetricFamily

from hpbroker.metrics.catalog import SNAPSHOT

_BY_KEY = {m.source[1]: m for m in SNAPSHOT}
log = logging.getLogger(__name__)


def build(broker, high_watermark) -> dict:
    """The rows of ``broker`` (a LocalBroker): ``high_watermark(topic, partition)`` -> int or
    None finds a partition's high watermark wherever it is."""
    lag = []
    members = {}
    for shard in list(broker.group_coordinator.shards.values()):
        for group_id, group in list(shard.group_manager.groups.items()):
            members[group_id] = len(group.members)
        for group_id, offsets in list(shard.offset_manager.offsets.items()):
            for (topic, partition), value in list(offsets.items()):
                hw = high_watermark(topic, partition)
                lag.append((group_id, topic, partition, value.offset, -1 if hw is None else hw))
    partitions = []
    for (topic, index), p in list(broker.replica_manager.partitions.items()):
        plog = p.log
        partitions.append((topic, index, p.log_start_offset, p.log_end_offset, plog.size_bytes, len(plog.segments)))
    return {"lag": lag, "members": members, "partitions": partitions}


class Published:
    """The in-process broker's latest rows (a reference swap: the endpoint's thread reads it)."""

    def __init__(self):
        self.rows: dict | None = None

    def publish(self, rows: dict) -> None:
        self.rows = rows

    def read(self) -> list[dict]:
        rows = self.rows
        return [] if rows is None else [rows]


class SharedPublished:
    """One handler's rows as JSON in a two-slot shared-memory publication."""

    def __init__(self, snapshot):
        self.snapshot = snapshot  # a MetadataSnapshot over this handler's slot
        self._warned = False

    def publish(self, rows: dict) -> None:
        if not self.snapshot.publish(json.dumps(rows, separators=(",", ":")).encode()) and not self._warned:
            self._warned = True
            log.warning(
                "lag and log rows exceed %d MiB: the metrics endpoint leaves them out", self.snapshot.capacity >> 20
            )

    def read(self) -> list[dict]:
        try:
            data = self.snapshot.read()
        except RuntimeError:  # rewritten all the while: next scrape
            return []
        return [] if data is None else [json.loads(data)]


def families(published: list[dict], log_dirs: list[str], topics=None):
    """Metric families of every process's rows (``topics``: the names that exist now, or None)."""
    lag = GaugeMetricFamily(_BY_KEY["lag"].name, _BY_KEY["lag"].help, labels=_BY_KEY["lag"].labels)
    current = GaugeMetricFamily(_BY_KEY["current"].name, _BY_KEY["current"].help, labels=_BY_KEY["current"].labels)
    lag_sum = GaugeMetricFamily(_BY_KEY["lag_sum"].name, _BY_KEY["lag_sum"].help, labels=_BY_KEY["lag_sum"].labels)
    members = GaugeMetricFamily(_BY_KEY["members"].name, _BY_KEY["members"].help, labels=_BY_KEY["members"].labels)
    logs = {
        key: GaugeMetricFamily(_BY_KEY[key].name, _BY_KEY[key].help, labels=_BY_KEY[key].labels)
        for key in ("size", "log_start", "log_end", "segments")
    }
    sums: dict[tuple[str, str], int] = {}
    for rows in published:
        for group, topic, partition, committed, hw in rows.get("lag", ()):
            if topics is not None and topic not in topics:
                continue
            labels = [group, topic, str(partition)]
            current.add_metric(labels, committed)
            if hw >= 0:
                n = max(hw - committed, 0)
                lag.add_metric(labels, n)
                sums[(group, topic)] = sums.get((group, topic), 0) + n
        for group, n in rows.get("members", {}).items():
            members.add_metric([group], n)
        for topic, index, start, end, size, segments in rows.get("partitions", ()):
            labels = [topic, str(index)]
            logs["size"].add_metric(labels, size)
            logs["log_start"].add_metric(labels, start)
            logs["log_end"].add_metric(labels, end)
            logs["segments"].add_metric(labels, segments)
    for (group, topic), n in sorted(sums.items()):
        lag_sum.add_metric([group, topic], n)
    free = GaugeMetricFamily(_BY_KEY["free"].name, _BY_KEY["free"].help, labels=_BY_KEY["free"].labels)
    total = GaugeMetricFamily(_BY_KEY["total"].name, _BY_KEY["total"].help, labels=_BY_KEY["total"].labels)
    for d in log_dirs:
        try:
            st = os.statvfs(d)
        except OSError:
            continue
        free.add_metric([d], st.f_bavail * st.f_frsize)
        total.add_metric([d], st.f_blocks * st.f_frsize)
    return [current, lag, lag_sum, members, *logs.values(), free, total]
