"""``hpbroker topics list|describe|create|alter|delete``: topics of any Kafka-protocol cluster,
as Kafka's kafka-topics.sh (and, for topic configs, kafka-configs.sh) manage them.

list      Metadata for every topic; names, sorted (``--exclude-internal`` drops __consumer_offsets)
describe  Metadata (partitions, leader, replicas, ISR, offline replicas) + DescribeConfigs (the topic's own configs,
          not the defaults it inherits)
create    CreateTopics at the controller (Metadata's controller_id)
alter     CreatePartitions at the controller (``--partitions``), and/or
          IncrementalAlterConfigs (``--config NAME=VALUE`` = SET, ``--delete-config NAME`` =
          DELETE); against a broker without it, AlterConfigs, which replaces a topic's whole set
          of configs, so the tool then reads the current ones first and sends them merged
delete    DeleteTopics at the controller

Errors come back as Kafka names them (TOPIC_ALREADY_EXISTS, UNKNOWN_TOPIC_OR_PARTITION, ...),
with the broker's message when it gives one; the exit status is then 1.
"""

from __future__ import annotations

import sys
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
from hpbroker.protocol import API_KEYS
from hpbroker.protocol.errors import ErrorCode

TOPIC_RESOURCE = 2
SET, DELETE = 0, 1  # IncrementalAlterConfigs operations
TIMEOUT_MS = 30_000
# DescribeConfigs v1+ says where each value comes from; these are set on the topic itself
_TOPIC_SOURCE = 1  # DYNAMIC_TOPIC_CONFIG


@dataclass
class PartitionInfo:
    partition: int
    leader: int
    replicas: list[int]
    isr: list[int]
    offline: list[int] = field(default_factory=list)  # replicas on brokers that are down


@dataclass
class TopicDescription:
    name: str
    topic_id: str
    partitions: list[PartitionInfo] = field(default_factory=list)
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def replication_factor(self) -> int:
        return len(self.partitions[0].replicas) if self.partitions else 0


def _controller(boot: BrokerConnection) -> BrokerConnection:
    """A connection to the cluster's controller (the bootstrap broker itself if it is)."""
    md = metadata(boot, [])
    brokers = brokers_of(md)
    controller = md.get("controller_id", -1)
    if controller not in brokers:
        raise ToolError("the cluster reports no controller")
    return BrokerConnection(*brokers[controller])


def list_topics(bootstrap: str, exclude_internal: bool = False) -> list[str]:
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        md = metadata(boot, None)
    return sorted(
        t["name"] for t in md["topics"] if t["error_code"] == 0 and not (exclude_internal and t.get("is_internal"))
    )


def _topic_configs(conn: BrokerConnection, name: str) -> dict[str, str]:
    """The configs set on topic ``name`` itself (DescribeConfigs), not the defaults."""
    v, resp = conn.call(
        "DescribeConfigs",
        {
            "resources": [{"resource_type": TOPIC_RESOURCE, "resource_name": name, "configuration_keys": None}],
            "include_synonyms": False,
            "include_documentation": False,
        },
    )
    result = resp["results"][0]
    if result["error_code"]:
        raise ToolError(
            f"DescribeConfigs for topic {name!r}: {error_text(result['error_code'], result['error_message'])}",
            result["error_code"],
        )
    out = {}
    for c in result["configs"]:
        mine = c["config_source"] == _TOPIC_SOURCE if v >= 1 else not c["is_default"]
        if mine and c["value"] is not None:
            out[c["name"]] = c["value"]
    return out


def describe_topics(bootstrap: str, names: list[str] | None = None) -> list[TopicDescription]:
    """Every topic (or ``names``), sorted; an unknown name is an error."""
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        md = metadata(boot, names or None)
        out = []
        for t in sorted(md["topics"], key=lambda t: t["name"]):
            if t["error_code"]:
                raise ToolError(f"topic {t['name']!r}: {error_text(t['error_code'])}")
            topic_id = t.get("topic_id")  # Metadata v10+ only; all zeros when the broker does not say
            known = isinstance(topic_id, (bytes, bytearray)) and any(topic_id)
            d = TopicDescription(t["name"], topic_id.hex() if known else "")
            for p in sorted(t["partitions"], key=lambda p: p["partition_index"]):
                d.partitions.append(
                    PartitionInfo(
                        p["partition_index"],
                        p["leader_id"],
                        list(p["replica_nodes"]),
                        list(p["isr_nodes"]),
                        list(p.get("offline_replicas") or []),
                    )
                )
            d.configs = _topic_configs(boot, t["name"])
            out.append(d)
    return out


def create_topic(bootstrap: str, name: str, partitions: int, replication_factor: int, configs: dict[str, str]) -> None:
    with BrokerConnection(*split_hostport(bootstrap)) as boot, _controller(boot) as ctl:
        _, resp = ctl.call(
            "CreateTopics",
            {
                "topics": [
                    {
                        "name": name,
                        "num_partitions": partitions,
                        "replication_factor": replication_factor,
                        "assignments": [],
                        "configs": [{"name": k, "value": v} for k, v in configs.items()],
                    }
                ],
                "timeout_ms": TIMEOUT_MS,
                "validate_only": False,
            },
        )
    t = resp["topics"][0]
    if t["error_code"]:
        raise ToolError(
            f"cannot create topic {name!r}: {error_text(t['error_code'], t.get('error_message'))}", t["error_code"]
        )


def delete_topic(bootstrap: str, name: str) -> None:
    with BrokerConnection(*split_hostport(bootstrap)) as boot, _controller(boot) as ctl:
        _, resp = ctl.call("DeleteTopics", {"topic_names": [name], "timeout_ms": TIMEOUT_MS})
    r = resp["responses"][0]
    if r["error_code"]:
        raise ToolError(f"cannot delete topic {name!r}: {error_text(r['error_code'])}", r["error_code"])


def alter_topic(
    bootstrap: str,
    name: str,
    partitions: int | None = None,
    set_configs: dict[str, str] | None = None,
    delete_configs: list[str] | None = None,
) -> None:
    with BrokerConnection(*split_hostport(bootstrap)) as boot:
        if partitions is not None:
            with _controller(boot) as ctl:
                _, resp = ctl.call(
                    "CreatePartitions",
                    {
                        "topics": [{"name": name, "count": partitions, "assignments": None}],
                        "timeout_ms": TIMEOUT_MS,
                        "validate_only": False,
                    },
                )
            r = resp["results"][0]
            if r["error_code"]:
                raise ToolError(
                    f"cannot change the partitions of {name!r}: {error_text(r['error_code'], r.get('error_message'))}",
                    r["error_code"],
                )
        if (set_configs or delete_configs) and API_KEYS["IncrementalAlterConfigs"] in boot.versions:
            # only the named configs change, whatever another client changes meanwhile
            ops = [{"name": k, "config_operation": SET, "value": v} for k, v in sorted((set_configs or {}).items())]
            ops += [{"name": k, "config_operation": DELETE, "value": None} for k in delete_configs or []]
            _, resp = boot.call(
                "IncrementalAlterConfigs",
                {
                    "resources": [{"resource_type": TOPIC_RESOURCE, "resource_name": name, "configs": ops}],
                    "validate_only": False,
                },
            )
            r = resp["responses"][0]
            if r["error_code"]:
                raise ToolError(
                    f"cannot change the configs of {name!r}: {error_text(r['error_code'], r.get('error_message'))}",
                    r["error_code"],
                )
        elif set_configs or delete_configs:
            # a broker without IncrementalAlterConfigs (before Kafka 2.3): AlterConfigs replaces
            # every override, so the ones to keep are read first and sent again
            configs = _topic_configs(boot, name)
            configs.update(set_configs or {})
            for key in delete_configs or []:
                configs.pop(key, None)
            _, resp = boot.call(
                "AlterConfigs",
                {
                    "resources": [
                        {
                            "resource_type": TOPIC_RESOURCE,
                            "resource_name": name,
                            "configs": [{"name": k, "value": v} for k, v in sorted(configs.items())],
                        }
                    ],
                    "validate_only": False,
                },
            )
            r = resp["responses"][0]
            if r["error_code"]:
                raise ToolError(
                    f"cannot change the configs of {name!r}: {error_text(r['error_code'], r.get('error_message'))}",
                    r["error_code"],
                )


def format_descriptions(ds: list[TopicDescription]) -> str:
    blocks = []
    for d in ds:
        configs = ",".join(f"{k}={v}" for k, v in sorted(d.configs.items()))
        topic_id = f"TopicId: {d.topic_id}\t" if d.topic_id else ""
        head = (
            f"Topic: {d.name}\t{topic_id}PartitionCount: {len(d.partitions)}\t"
            f"ReplicationFactor: {d.replication_factor}\tConfigs: {configs}"
        )
        rows = [
            [
                f"Topic: {d.name}",
                f"Partition: {p.partition}",
                f"Leader: {p.leader if p.leader >= 0 else 'none'}",
                f"Replicas: {','.join(map(str, p.replicas))}",
                f"Isr: {','.join(map(str, p.isr))}",
            ]
            + ([f"Offline: {','.join(map(str, p.offline))}"] if p.offline else [])
            for p in d.partitions
        ]
        blocks.append(head + ("\n" + text_table(rows) if rows else ""))
    return "\n".join(blocks)


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ToolError(f"--config wants NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def main(args) -> int:
    try:
        cmd = args.topics_command
        if cmd == "list":
            for name in list_topics(args.bootstrap, args.exclude_internal):
                print(name)
        elif cmd == "describe":
            print(format_descriptions(describe_topics(args.bootstrap, args.topics)))
        elif cmd == "create":
            try:
                create_topic(args.bootstrap, args.topic, args.partitions, args.replication_factor, _pairs(args.config))
                print(f"Created topic {args.topic}.")
            except ToolError as exc:
                if not (args.if_not_exists and exc.code == ErrorCode.TOPIC_ALREADY_EXISTS):
                    raise
                print(f"Topic {args.topic} already exists.")
        elif cmd == "alter":
            if args.partitions is None and not args.config and not args.delete_config:
                raise ToolError("alter wants --partitions, --config or --delete-config")
            try:
                alter_topic(args.bootstrap, args.topic, args.partitions, _pairs(args.config), args.delete_config)
                print(f"Altered topic {args.topic}.")
            except ToolError as exc:
                if not (args.if_exists and exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION):
                    raise
                print(f"Topic {args.topic} does not exist.")
        else:
            try:
                delete_topic(args.bootstrap, args.topic)
                print(f"Deleted topic {args.topic}.")
            except ToolError as exc:
                if not (args.if_exists and exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION):
                    raise
                print(f"Topic {args.topic} does not exist.")
        return 0
    except ToolError as exc:
        print(f"hpbroker topics: {exc}", file=sys.stderr)
        return 1
