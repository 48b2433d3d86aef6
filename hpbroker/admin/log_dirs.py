"""``hpbroker log-dirs describe``: where each partition lives on each broker and its size on disk,
as Kafka's ``kafka-log-dirs.sh --describe`` reports it (DescribeLogDirs to every broker in the
cluster's Metadata, or the ones ``--broker-list`` names).

Without ``--topic-list`` every partition is described (the request's topics are null); with it,
the partitions of those topics as Metadata lists them (an unknown topic is an error, as in
Kafka's tool). ``--json`` prints Kafka's document::

    {"brokers": [{"broker": 0, "logDirs": [{"error": null, "logDir": "/data",
      "partitions": [{"isFuture": false, "offsetLag": 0, "partition": "t-0", "size": 1234}]}]}],
     "version": 1}

otherwise a table with a row per partition, then a row per log dir with its volume's total and
usable bytes (-1 where a broker does not say: DescribeLogDirs before v4).
"""

from __future__ import annotations

import json
import sys

from hpbroker.admin.client import (
    BrokerConnection,
    ToolError,
    brokers_of,
    error_text,
    metadata,
    split_hostport,
    text_table,
)
from hpbroker.protocol.errors import ErrorCode


def describe_log_dirs(
    bootstrap: str, topics: list[str] | None = None, broker_ids: list[int] | None = None
) -> dict[int, list[dict]]:
    """broker id -> the ``results`` of its DescribeLogDirs answer (one per log dir)."""
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        md = metadata(boot, topics)
    brokers = brokers_of(md)
    request_topics = None
    if topics is not None:
        request_topics = []
        for t in md["topics"]:
            if t["error_code"]:
                raise ToolError(f"cannot describe topic {t['name']!r}: {error_text(t['error_code'])}", t["error_code"])
            request_topics.append(
                {"topic": t["name"], "partitions": sorted(p["partition_index"] for p in t["partitions"])}
            )
    wanted = sorted(brokers) if broker_ids is None else broker_ids
    out = {}
    for node in wanted:
        if node not in brokers:
            raise ToolError(
                f"broker {node} is not in the cluster (brokers: {', '.join(map(str, sorted(brokers)))})",
                ErrorCode.BROKER_NOT_AVAILABLE,
            )
        with BrokerConnection(*brokers[node]) as conn:
            _, resp = conn.call("DescribeLogDirs", {"topics": request_topics})
        if resp.get("error_code"):
            raise ToolError(f"broker {node}: {error_text(resp['error_code'])}", resp["error_code"])
        out[node] = resp["results"]
    return out


def as_kafka_json(described: dict[int, list[dict]]) -> str:
    brokers = []
    for node, results in sorted(described.items()):
        dirs = []
        for r in results:
            partitions = [
                {
                    "partition": f"{t['name']}-{p['partition_index']}",
                    "size": p["partition_size"],
                    "offsetLag": p["offset_lag"],
                    "isFuture": p["is_future_key"],
                }
                for t in r["topics"]
                for p in t["partitions"]
            ]
            dirs.append({"logDir": r["log_dir"], "error": _error_name(r["error_code"]), "partitions": partitions})
        brokers.append({"broker": node, "logDirs": dirs})
    return json.dumps({"version": 1, "brokers": brokers}, sort_keys=True)


def as_table(described: dict[int, list[dict]]) -> str:
    rows = [["BROKER", "LOG-DIR", "TOPIC", "PARTITION", "SIZE", "OFFSET-LAG"]]
    dirs = [["BROKER", "LOG-DIR", "TOTAL-BYTES", "USABLE-BYTES", "ERROR"]]
    for node, results in sorted(described.items()):
        for r in results:
            dirs.append(
                [
                    str(node),
                    r["log_dir"],
                    str(r.get("total_bytes", -1)),
                    str(r.get("usable_bytes", -1)),
                    _error_name(r["error_code"]) or "-",
                ]
            )
            for t in sorted(r["topics"], key=lambda t: t["name"]):
                for p in sorted(t["partitions"], key=lambda p: p["partition_index"]):
                    rows.append(
                        [
                            str(node),
                            r["log_dir"],
                            t["name"],
                            str(p["partition_index"]),
                            str(p["partition_size"]),
                            str(p["offset_lag"]),
                        ]
                    )
    return text_table(rows) + "\n\n" + text_table(dirs)


def _error_name(code: int) -> str | None:
    return error_text(code) if code else None


def main(args) -> int:
    try:
        topics = None
        if args.topic_list is not None:
            topics = [t for t in args.topic_list.split(",") if t]
            if not topics:
                raise ToolError("--topic-list wants TOPIC[,TOPIC...]")
        broker_ids = None
        if args.broker_list is not None:
            try:
                broker_ids = [int(b) for b in args.broker_list.split(",") if b]
            except ValueError:
                raise ToolError(f"--broker-list wants ID[,ID...], got {args.broker_list!r}") from None
        described = describe_log_dirs(args.bootstrap, topics, broker_ids)
        print(as_kafka_json(described) if args.json else as_table(described))
        return 0
    except ToolError as exc:
        print(f"hpbroker log-dirs: {exc}", file=sys.stderr)
        return 1
