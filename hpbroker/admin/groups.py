"""``hpbroker groups list|describe|delete-offsets``: consumer groups of any Kafka-protocol cluster.

list            ListGroups on every broker of the cluster (each lists the groups it coordinates);
                ``--state`` adds each group's state, ``--state Stable,Empty`` keeps those states
                (kafka-consumer-groups.sh --list --state: ListGroups v4+, KIP-518). A broker
                still loading a coordinator partition is asked again (RETRIABLE).
describe        FindCoordinator -> DescribeGroups + OffsetFetch (all committed partitions) at the
                coordinator; the members' assignments decoded from the consumer protocol; log
                end offsets with ListOffsets(latest) at each partition's leader; lag = end -
                committed.
delete-offsets  FindCoordinator -> OffsetDelete at the coordinator (kafka-consumer-groups.sh
                --delete-offsets): ``--topic T`` names every partition of T (Metadata),
                ``--topic T:0,2`` those partitions; a status per partition, exit 1 on any error.

describe and delete-offsets find the coordinator again and ask again while the answer says it is
loading, not available or not the coordinator (REFIND), as Kafka's admin client does.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from hpbroker.admin.client import (
    BrokerConnection,
    ToolError,
    brokers_of,
    error_text,
    metadata,
    split_hostport,
    text_table,
)
from hpbroker.coordinator.consumer_protocol import decode_assignment
from hpbroker.protocol.errors import ErrorCode

LATEST = -1


@dataclass
class PartitionRow:
    topic: str
    partition: int
    committed_offset: int | None  # None: nothing committed
    log_end_offset: int | None
    member_id: str | None = None
    host: str | None = None
    client_id: str | None = None

    @property
    def lag(self) -> int | None:
        if self.committed_offset is None or self.log_end_offset is None:
            return None
        return max(self.log_end_offset - self.committed_offset, 0)


@dataclass
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    protocol: str
    members: list[dict] = field(default_factory=list)  # member_id, client_id, host, assignment [(t, [p])]
    partitions: list[PartitionRow] = field(default_factory=list)


def list_groups(bootstrap: str) -> list[tuple[str, str]]:
    """(group_id, protocol_type) of every group in the cluster, sorted."""
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        brokers = brokers_of(metadata(boot, []))
    out = set()
    for host, port in brokers.values():
        resp = _list_groups_at(host, port, {"states_filter": [], "types_filter": []})
        out.update((g["group_id"], g["protocol_type"]) for g in resp["groups"])
    return sorted(out)


def list_group_states(bootstrap: str, states: list[str]) -> list[tuple[str, str]]:
    """(group_id, state) of every group in the cluster whose state is in ``states`` (all if
    empty), sorted. The brokers filter (ListGroups v4+); an older broker is an error, not a list
    without states."""
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        brokers = brokers_of(metadata(boot, []))
    out = set()
    for host, port in brokers.values():
        resp = _list_groups_at(host, port, {"states_filter": list(states), "types_filter": []}, min_version=4)
        out.update((g["group_id"], g["group_state"]) for g in resp["groups"])
    return sorted(out)


# Answers after which Kafka's admin client asks again, every retry.backoff.ms until
# default.api.timeout.ms: a broker still loading a coordinator partition, or without its
# coordinator yet (ListGroups: listConsumerGroups asks the same broker again) ...
RETRIABLE = (ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE)
# ... and, for a group's own requests, a coordinator that moved (DescribeConsumerGroups,
# DeleteConsumerGroupOffsets find the coordinator again first)
REFIND = RETRIABLE + (ErrorCode.NOT_COORDINATOR,)
RETRY_FOR_S = 60.0
RETRY_BACKOFF_S = 0.1


class _AskAgain(Exception):
    def __init__(self, what: str, code: int):
        super().__init__(f"{what} failed: {error_text(code)}")
        self.code = code


def _check(code: int, what: str, again=REFIND) -> None:
    if code in again:
        raise _AskAgain(what, code)
    if code:
        raise ToolError(f"{what} failed: {error_text(code)}", code)


def _asking_again(ask):
    """``ask()``, again every RETRY_BACKOFF_S while it raises _AskAgain (``_check``), up to
    RETRY_FOR_S; then the last answer's error."""
    deadline = time.monotonic() + RETRY_FOR_S
    while True:
        try:
            return ask()
        except _AskAgain as again:
            if time.monotonic() >= deadline:
                raise ToolError(str(again), again.code) from None
            time.sleep(RETRY_BACKOFF_S)


def _list_groups_at(host: str, port: int, body: dict, min_version: int = 0) -> dict:
    """One broker's ListGroups answer, asked again while it says RETRIABLE."""
    with BrokerConnection(host, port) as conn:
        if conn.version_of("ListGroups") < min_version:
            raise ToolError(f"the broker at {host}:{port} cannot list groups by state (ListGroups v4+)")

        def ask():
            _, resp = conn.call("ListGroups", body)
            _check(resp["error_code"], f"ListGroups on {host}:{port}", RETRIABLE)
            return resp

        return _asking_again(ask)


def _at_coordinator(boot: BrokerConnection, group_id: str, ask):
    """``ask(connection to group_id's coordinator)``, from FindCoordinator on, asked again while
    an answer is in REFIND."""

    def find_and_ask():
        _, fc = boot.call("FindCoordinator", {"key": group_id, "key_type": 0})
        _check(fc["error_code"], f"FindCoordinator for group {group_id!r}")
        with BrokerConnection(fc["host"], fc["port"]) as coord:
            return ask(coord)

    return _asking_again(find_and_ask)


def describe_group(bootstrap: str, group_id: str) -> GroupDescription:
    def ask(coord):
        _, dg = coord.call("DescribeGroups", {"groups": [group_id], "include_authorized_operations": False})
        g = dg["groups"][0]
        _check(g["error_code"], f"DescribeGroups for {group_id!r}")
        _, of = coord.call("OffsetFetch", {"group_id": group_id, "topics": None, "require_stable": False})
        _check(of.get("error_code", 0), f"OffsetFetch for {group_id!r}")
        return g, of

    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        g, of = _at_coordinator(boot, group_id, ask)
        desc = GroupDescription(group_id, g["group_state"], g["protocol_type"], g["protocol_data"])
        owner: dict[tuple[str, int], dict] = {}
        for m in g["members"]:
            assignment = decode_assignment(m["member_assignment"]) if g["protocol_type"] == "consumer" else []
            member = {
                "member_id": m["member_id"],
                "client_id": m["client_id"],
                "host": m["client_host"],
                "assignment": assignment,
            }
            desc.members.append(member)
            for topic, parts in assignment:
                for p in parts:
                    owner[(topic, p)] = member
        committed = {
            (t["name"], p["partition_index"]): p["committed_offset"]
            for t in of["topics"]
            for p in t["partitions"]
            if p["error_code"] == 0
        }
        tps = sorted(set(committed) | set(owner))
        ends = _log_end_offsets(boot, tps)
    for tp in tps:
        c = committed.get(tp)
        m = owner.get(tp)
        desc.partitions.append(
            PartitionRow(
                tp[0],
                tp[1],
                c if c is not None and c >= 0 else None,
                ends.get(tp),
                m and m["member_id"],
                m and m["host"],
                m and m["client_id"],
            )
        )
    return desc


def _partitions_named(boot: BrokerConnection, specs: list[str]) -> list[tuple[str, int]]:
    """``T`` (every partition of topic T) or ``T:0,2`` -> [(topic, partition)], in order."""
    out, whole = [], []
    for spec in specs:
        topic, sep, parts = spec.rpartition(":") if ":" in spec else (spec, "", "")
        if sep:
            try:
                out += [(topic, int(p)) for p in parts.split(",")]
            except ValueError:
                raise ToolError(f"--topic wants TOPIC or TOPIC:P[,P...], got {spec!r}") from None
        else:
            whole.append(topic)
            out.append((topic, None))
    if whole:
        md = {t["name"]: t for t in metadata(boot, sorted(set(whole)))["topics"]}
        expanded = []
        for topic, p in out:
            if p is not None:
                expanded.append((topic, p))
                continue
            t = md[topic]
            if t["error_code"]:
                raise ToolError(f"topic {topic!r}: {error_text(t['error_code'])}", t["error_code"])
            expanded += sorted((topic, q["partition_index"]) for q in t["partitions"])
        out = expanded
    return list(dict.fromkeys(out))


def delete_offsets(bootstrap: str, group_id: str, topics: list[str]) -> list[tuple[str, int, int]]:
    """OffsetDelete of ``group_id``'s committed offsets of ``topics`` (see _partitions_named):
    [(topic, partition, error code)]. A group-level error raises ToolError."""
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        tps = _partitions_named(boot, topics)
        by_topic: dict[str, list] = {}
        for t, p in tps:
            by_topic.setdefault(t, []).append({"partition_index": p})

        def ask(coord):
            _, resp = coord.call(
                "OffsetDelete",
                {"group_id": group_id, "topics": [{"name": t, "partitions": ps} for t, ps in by_topic.items()]},
            )
            _check(resp["error_code"], f"OffsetDelete for {group_id!r}")
            return resp

        resp = _at_coordinator(boot, group_id, ask)
    return [(t["name"], p["partition_index"], p["error_code"]) for t in resp["topics"] for p in t["partitions"]]


def _log_end_offsets(boot: BrokerConnection, tps) -> dict[tuple[str, int], int]:
    if not tps:
        return {}
    md = metadata(boot, sorted({t for t, _ in tps}))
    brokers = brokers_of(md)
    leader = {(t["name"], p["partition_index"]): p["leader_id"] for t in md["topics"] for p in t["partitions"]}
    by_leader: dict[int, list] = {}
    for tp in tps:
        if tp in leader:
            by_leader.setdefault(leader[tp], []).append(tp)
    out = {}
    for node, parts in by_leader.items():
        if node not in brokers:
            continue
        topics: dict[str, list] = {}
        for t, p in parts:
            topics.setdefault(t, []).append({"partition_index": p, "timestamp": LATEST, "current_leader_epoch": -1})
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


# -- formatting ----------------------------------------------------------------------------------
def format_description(d: GroupDescription) -> str:
    dash = "-"
    lines = [
        f"Group {d.group_id}: state {d.state}, protocol {d.protocol_type or dash}/{d.protocol or dash}, "
        f"{len(d.members)} member(s)",
        "",
    ]
    rows = [
        ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]
    ]
    for r in d.partitions:
        rows.append(
            [
                d.group_id,
                r.topic,
                str(r.partition),
                dash if r.committed_offset is None else str(r.committed_offset),
                dash if r.log_end_offset is None else str(r.log_end_offset),
                dash if r.lag is None else str(r.lag),
                r.member_id or dash,
                r.host or dash,
                r.client_id or dash,
            ]
        )
    lines.append(text_table(rows))
    if d.members:
        lines.append("")
        mrows = [["CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"]]
        for m in d.members:
            n = sum(len(ps) for _, ps in m["assignment"])
            text = ",".join(f"{t}:{'/'.join(map(str, sorted(ps)))}" for t, ps in m["assignment"]) or dash
            mrows.append([m["member_id"], m["host"], m["client_id"], str(n), text])
        lines.append(text_table(mrows))
    return "\n".join(lines)


def main(args) -> int:
    try:
        if args.groups_command == "list" and args.state is not None:
            wanted = [s.strip() for s in args.state.split(",") if s.strip()]
            rows = [["GROUP", "STATE"]] + [list(r) for r in list_group_states(args.bootstrap, wanted)]
            print(text_table(rows))
            return 0
        if args.groups_command == "list":
            for group_id, _ in list_groups(args.bootstrap):
                print(group_id)
            return 0
        if args.groups_command == "delete-offsets":
            results = delete_offsets(args.bootstrap, args.group, args.topic)
            rows = [["TOPIC", "PARTITION", "STATUS"]]
            rows += [[t, str(p), "Successful" if not code else f"Error: {error_text(code)}"] for t, p, code in results]
            print(text_table(rows))
            return 1 if any(code for _, _, code in results) else 0
        print(format_description(describe_group(args.bootstrap, args.group)))
        return 0
    except ToolError as exc:
        print(f"hpbroker groups: {exc}", file=sys.stderr)
        return 1
