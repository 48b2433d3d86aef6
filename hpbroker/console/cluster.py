"""What the console's pages show, asked of the cluster over the Kafka protocol.

Every function opens its own connections (the admin client is blocking and not shared between
threads: the HTTP server answers each page in a thread of its own) and raises ToolError with
Kafka's error name when the cluster refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hpbroker.admin import groups as admin_groups
from hpbroker.admin import log_dirs as admin_log_dirs
from hpbroker.admin import topics as admin_topics
from hpbroker.admin.client import BrokerConnection, ToolError, brokers_of, error_text, metadata, split_hostport
from hpbroker.records.batch import read_header
from hpbroker.records.layout import RECORD_BATCH_OVERHEAD, InvalidRecordBatch
from hpbroker.records.records import Record, iter_batch_records

EARLIEST, LATEST = -2, -1
BROWSE_MAX_BYTES = 1 << 20  # one Fetch of at most this much per page of records


@dataclass
class ClusterView:
    cluster_id: str | None
    controller_id: int
    brokers: list[tuple[int, str, int, str | None]]  # node id, host, port, rack
    topics: list[tuple[str, int, bool]]  # name, partitions, internal


@dataclass
class TopicView:
    description: admin_topics.TopicDescription
    sizes: dict[int, int] = field(default_factory=dict)  # partition -> bytes (on its leader)
    offsets: dict[int, tuple[int, int]] = field(default_factory=dict)  # partition -> (start, end)


def cluster(bootstrap: str) -> ClusterView:
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        md = metadata(boot, None)
    brokers = sorted((b["node_id"], b["host"], b["port"], b.get("rack")) for b in md["brokers"])
    topics = sorted(
        (t["name"], len(t["partitions"]), bool(t.get("is_internal"))) for t in md["topics"] if t["error_code"] == 0
    )
    return ClusterView(md.get("cluster_id"), md.get("controller_id", -1), brokers, topics)


def list_offsets(bootstrap: str, tps: list[tuple[str, int]], timestamp: int) -> dict[tuple[str, int], int]:
    """The earliest (EARLIEST) or latest (LATEST) offset of each partition, at its leader."""
    out: dict[tuple[str, int], int] = {}
    if not tps:
        return out
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        md = metadata(boot, sorted({t for t, _ in tps}))
    brokers = brokers_of(md)
    leader = {(t["name"], p["partition_index"]): p["leader_id"] for t in md["topics"] for p in t["partitions"]}
    by_leader: dict[int, dict[str, list]] = {}
    for t, p in tps:
        node = leader.get((t, p))
        if node in brokers:
            by_leader.setdefault(node, {}).setdefault(t, []).append(
                {"partition_index": p, "timestamp": timestamp, "current_leader_epoch": -1}
            )
    for node, topics in by_leader.items():
        with BrokerConnection(*brokers[node]) as conn:
            _, lo = conn.call(
                "ListOffsets",
                {
                    "replica_id": -1,
                    "isolation_level": 0,
                    "topics": [{"name": t, "partitions": ps} for t, ps in topics.items()],
                },
            )
        for t in lo["topics"]:
            for p in t["partitions"]:
                if p["error_code"] == 0:
                    out[(t["name"], p["partition_index"])] = p["offset"]
    return out


def topic(bootstrap: str, name: str) -> TopicView:
    (description,) = admin_topics.describe_topics(bootstrap, [name])
    view = TopicView(description)
    tps = [(name, p.partition) for p in description.partitions]
    starts = list_offsets(bootstrap, tps, EARLIEST)
    ends = list_offsets(bootstrap, tps, LATEST)
    for p in description.partitions:
        view.offsets[p.partition] = (starts.get((name, p.partition), -1), ends.get((name, p.partition), -1))
    leaders = {p.partition: p.leader for p in description.partitions}
    try:
        described = admin_log_dirs.describe_log_dirs(bootstrap, [name])
    except ToolError:
        described = {}  # a broker without DescribeLogDirs: sizes unknown
    for node, results in described.items():
        for r in results:
            for t in r["topics"]:
                for p in t["partitions"]:
                    if leaders.get(p["partition_index"]) == node:
                        view.sizes[p["partition_index"]] = p["partition_size"]
    return view


def groups(bootstrap: str) -> list[tuple[str, str]]:
    """(group id, state) of every group; state "" from a broker too old to say."""
    try:
        return admin_groups.list_group_states(bootstrap, [])
    except ToolError:
        return [(g, "") for g, _ in admin_groups.list_groups(bootstrap)]


def group(bootstrap: str, group_id: str) -> admin_groups.GroupDescription:
    return admin_groups.describe_group(bootstrap, group_id)


def lags(bootstrap: str, group_ids: list[str]) -> dict[str, dict[tuple[str, int], int]]:
    """Each group's lag per partition (the history's samples)."""
    out = {}
    for g in group_ids:
        try:
            d = admin_groups.describe_group(bootstrap, g)
        except ToolError:
            continue
        out[g] = {(r.topic, r.partition): r.lag for r in d.partitions if r.lag is not None}
    return out


def records(bootstrap: str, topic_name: str, partition: int, offset: int, limit: int) -> tuple[list[Record], int]:
    """Up to ``limit`` records of a partition from ``offset`` (one Fetch at the leader), and the
    offset to ask for next."""
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        md = metadata(boot, [topic_name])
    brokers = brokers_of(md)
    (t,) = md["topics"]
    if t["error_code"]:
        raise ToolError(f"topic {topic_name!r}: {error_text(t['error_code'])}", t["error_code"])
    leader = next((p["leader_id"] for p in t["partitions"] if p["partition_index"] == partition), None)
    if leader not in brokers:
        raise ToolError(f"partition {topic_name}-{partition} has no leader")
    body = {
        "replica_id": -1,
        "max_wait_ms": 0,
        "min_bytes": 0,
        "max_bytes": BROWSE_MAX_BYTES,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": topic_name,
                "partitions": [
                    {
                        "partition": partition,
                        "current_leader_epoch": -1,
                        "fetch_offset": offset,
                        "last_fetched_epoch": -1,
                        "log_start_offset": -1,
                        "partition_max_bytes": BROWSE_MAX_BYTES,
                    }
                ],
            }
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }
    with BrokerConnection(*brokers[leader]) as conn:
        _, resp = conn.call("Fetch", body)
    if resp.get("error_code"):
        raise ToolError(f"Fetch failed: {error_text(resp['error_code'])}", resp["error_code"])
    (p,) = resp["responses"][0]["partitions"]
    if p["error_code"]:
        raise ToolError(f"Fetch of {topic_name}-{partition} failed: {error_text(p['error_code'])}", p["error_code"])
    data = bytes(p["records"] or b"")
    out: list[Record] = []
    pos = 0
    next_offset = offset
    while pos + RECORD_BATCH_OVERHEAD <= len(data) and len(out) < limit:
        h = read_header(data, pos)
        if pos + h.size > len(data):
            break  # a partial batch at the end of the answer
        try:
            if not h.is_control:  # control batches (transaction markers) hold no data
                for r in iter_batch_records(data, pos):
                    if r.offset >= offset and len(out) < limit:
                        out.append(r)
                        next_offset = r.offset + 1
        except InvalidRecordBatch as exc:
            raise ToolError(f"a batch of {topic_name}-{partition} does not decode: {exc}") from None
        if len(out) < limit:
            next_offset = max(next_offset, h.last_offset + 1)
        pos += h.size
    return out, next_offset
