"""Kafka's ZooKeeper layout: znode paths, and the JSON in them, encoded and decoded.

This is the layout Kafka 2.x brokers and tools read and write (Kafka 2.8's ZkData.scala), so a
cluster of hpbroker brokers can be inspected with Kafka's tools and ``zkCli.sh``::

    /brokers/ids/<id>                        ephemeral  broker registration (v5); czxid = broker epoch
    /brokers/topics/<topic>                  persistent replica assignment (v2, or v3 with topic_id)
    /brokers/topics/<topic>/partitions/<p>/state
                                             persistent leader, leader_epoch, isr, controller_epoch;
                                                        its stat.version is the partition epoch
    /controller                              ephemeral  {"version":1,"brokerid":N,"timestamp":"ms"}
    /controller_epoch                        persistent the epoch as decimal text; its stat.version
                                                        fences every controller write
    /config/topics/<topic>                   persistent {"version":1,"config":{name: value}}
    /config/changes/config_change_<seq>      sequential {"version":2,"entity_path":"topics/<topic>"}
    /admin/delete_topics/<topic>             persistent empty: the topic is to be deleted
    /isr_change_notification/isr_change_<seq> sequential partitions whose ISR a leader changed
    /cluster/id                              persistent {"version":"1","id":"<base64 uuid>"}
    /latest_producer_id_block                persistent the last block of producer ids handed out

Encoders return compact JSON bytes as Kafka's Jackson writes them. Decoders take what a znode
holds (bytes, possibly written by hand or by another Kafka version) and either return a value or
raise ``ZkDataError`` naming the path and what is wrong: one exception type, so a loop reading
znodes reports a malformed one and goes on. Decoding follows Kafka's leniency (unknown keys are
ignored, optional keys may be missing) but never lets a wrong type through.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# -- paths -----------------------------------------------------------------------------------
BROKERS_PATH = "/brokers"
BROKER_IDS_PATH = "/brokers/ids"
TOPICS_PATH = "/brokers/topics"
CONTROLLER_PATH = "/controller"
CONTROLLER_EPOCH_PATH = "/controller_epoch"
CONFIG_PATH = "/config"
CONFIG_CHANGES_PATH = "/config/changes"
CONFIG_CHANGE_PREFIX = "config_change_"
ADMIN_PATH = "/admin"
DELETE_TOPICS_PATH = "/admin/delete_topics"
ISR_CHANGE_NOTIFICATION_PATH = "/isr_change_notification"
ISR_CHANGE_PREFIX = "isr_change_"
CLUSTER_ID_PATH = "/cluster/id"
PRODUCER_ID_BLOCK_PATH = "/latest_producer_id_block"

#: Kafka's ConfigType.all: the entity types under /config
CONFIG_TYPES = ("topics", "clients", "users", "brokers", "ips")
TOPIC_CONFIG_TYPE = "topics"

#: persistent paths every broker makes sure exist at start-up (Kafka's ZkData.PersistentZkPaths,
#: without the old consumers' path, /brokers/seqid and /log_dir_event_notification)
PERSISTENT_PATHS = (
    BROKER_IDS_PATH,
    TOPICS_PATH,
    CONFIG_CHANGES_PATH,
    DELETE_TOPICS_PATH,
    ISR_CHANGE_NOTIFICATION_PATH,
    PRODUCER_ID_BLOCK_PATH,
) + tuple(f"{CONFIG_PATH}/{t}" for t in CONFIG_TYPES)

#: the controller epoch before the first election, and the zkVersion of a just created znode
INITIAL_CONTROLLER_EPOCH = 0
INITIAL_ZK_VERSION = 0
#: Kafka's ProducerIdManager.PidBlockSize
PRODUCER_ID_BLOCK_SIZE = 1000
#: leader -1 in a partition state: no leader (the partition is offline)
NO_LEADER = -1


class TopicPartition(NamedTuple):
    topic: str
    partition: int


def broker_path(broker_id: int) -> str:
    return f"{BROKER_IDS_PATH}/{broker_id}"


def topic_path(topic: str) -> str:
    return f"{TOPICS_PATH}/{topic}"


def topic_partitions_path(topic: str) -> str:
    return f"{TOPICS_PATH}/{topic}/partitions"


def partition_path(tp: TopicPartition) -> str:
    return f"{TOPICS_PATH}/{tp.topic}/partitions/{tp.partition}"


def partition_state_path(tp: TopicPartition) -> str:
    return f"{TOPICS_PATH}/{tp.topic}/partitions/{tp.partition}/state"


def config_entity_path(entity_type: str, name: str) -> str:
    return f"{CONFIG_PATH}/{entity_type}/{name}"


def delete_topic_path(topic: str) -> str:
    return f"{DELETE_TOPICS_PATH}/{topic}"


def sequence_number(name: str, prefix: str) -> str:
    """ "isr_change_0000000003" -> "0000000003" (a child name or a whole path)."""
    return name[name.rindex(prefix) + len(prefix) :]


# -- errors and JSON helpers -----------------------------------------------------------------
class ZkDataError(ValueError):
    """A znode's content is not what Kafka's layout says it must be."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _object(path: str, data: bytes | None) -> dict:
    """The JSON object a znode holds, or ZkDataError."""
    if data is None or not data.strip():
        raise ZkDataError(path, "no data where a JSON object was expected")
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ZkDataError(path, f"not JSON ({exc}): {_preview(data)}") from None
    if not isinstance(value, dict):
        raise ZkDataError(path, f"JSON {type(value).__name__} where an object was expected: {_preview(data)}")
    return value


def _preview(data: bytes) -> str:
    text = data[:200].decode(errors="replace")
    return repr(text + ("..." if len(data) > 200 else ""))


def _int(path: str, obj: Mapping, key: str, *, default: Any = ..., lo: int = -(2**63), hi: int = 2**63 - 1):
    if key not in obj or obj[key] is None:
        if default is ...:
            raise ZkDataError(path, f"{key!r} is missing")
        return default
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ZkDataError(path, f"{key!r} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ZkDataError(path, f"{key!r} is out of range: {value}")
    return value


def _int32(path: str, obj: Mapping, key: str, **kw) -> int:
    return _int(path, obj, key, lo=-(2**31), hi=2**31 - 1, **kw)


def _str(path: str, obj: Mapping, key: str, *, default: Any = ...) -> Any:
    if key not in obj or obj[key] is None:
        if default is ...:
            raise ZkDataError(path, f"{key!r} is missing")
        return default
    value = obj[key]
    if not isinstance(value, str):
        raise ZkDataError(path, f"{key!r} must be a string, not {value!r}")
    return value


def _long_text(path: str, obj: Mapping, key: str) -> int:
    """A long written as a decimal string (Kafka's timestamps, producer id block bounds)."""
    text = _str(path, obj, key)
    try:
        return int(text)
    except ValueError:
        raise ZkDataError(path, f"{key!r} must be a decimal number in a string, not {text!r}") from None


def _int_list(path: str, value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ZkDataError(path, f"{what} must be a list of integers, not {value!r}")
    return tuple(value)


def _version(path: str, obj: Mapping, supported: Iterable[int]) -> int:
    version = _int(path, obj, "version")
    if version not in supported:
        raise ZkDataError(path, f"unsupported version {version}")
    return version


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- /brokers/ids/<id> -----------------------------------------------------------------------
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_ENDPOINT = re.compile(r"^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)")
BROKER_INFO_VERSION = 5


@dataclass(frozen=True)
class EndPoint:
    """One advertised listener. ``host`` None = the default interface ("PLAINTEXT://:9092")."""

    listener_name: str
    host: str | None
    port: int
    security_protocol: str

    @property
    def connection_string(self) -> str:
        if self.host is None:
            return f"{self.listener_name}://:{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.listener_name}://{host}:{self.port}"

    @classmethod
    def parse(cls, text: str, protocol_map: Mapping[str, str] | None = None) -> EndPoint:
        """Kafka's EndPoint.createEndPoint: "LISTENER://host:port"; the security protocol comes
        from the map, or is the listener's own name when there is no map."""
        m = _ENDPOINT.match(text)
        if m is None:
            raise ValueError(f"cannot parse {text!r} as a broker endpoint")
        listener = m.group(1).upper()
        protocols = protocol_map if protocol_map is not None else {p: p for p in SECURITY_PROTOCOLS}
        protocol = protocols.get(listener)
        if protocol is None:
            raise ValueError(f"no security protocol defined for listener {listener}")
        return cls(listener, m.group(2) or None, int(m.group(3)), protocol)


@dataclass(frozen=True)
class BrokerInfo:
    """What a broker writes at /brokers/ids/<id>. ``features`` maps a feature name to its
    supported range, e.g. {"feature1": {"min_version": 1, "max_version": 2}} (KIP-584)."""

    broker_id: int
    endpoints: tuple[EndPoint, ...]
    rack: str | None = None
    jmx_port: int = -1
    features: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    version: int = BROKER_INFO_VERSION
    timestamp_ms: int | None = None  # when decoded; encode() writes the time of the call

    @property
    def plaintext_endpoint(self) -> EndPoint | None:
        """The first PLAINTEXT endpoint: its host and port are written at the top level for
        clients older than endpoints (Kafka does the same)."""
        return next((e for e in self.endpoints if e.security_protocol == "PLAINTEXT"), None)

    def endpoint(self, listener_name: str) -> EndPoint | None:
        return next((e for e in self.endpoints if e.listener_name == listener_name), None)


def encode_broker_info(info: BrokerInfo, timestamp_ms: int | None = None) -> bytes:
    plain = info.plaintext_endpoint
    obj: dict[str, Any] = {
        "version": info.version,
        "host": plain.host if plain else None,
        "port": plain.port if plain else -1,
        "endpoints": [e.connection_string for e in info.endpoints],
        "jmx_port": info.jmx_port,
        "timestamp": str(_now_ms() if timestamp_ms is None else timestamp_ms),
    }
    if info.rack is not None and info.version >= 3:
        obj["rack"] = info.rack
    if info.version >= 4:
        obj["listener_security_protocol_map"] = {e.listener_name: e.security_protocol for e in info.endpoints}
    if info.version >= 5:
        obj["features"] = {name: dict(rng) for name, rng in info.features.items()}
    return _dumps(obj)


def decode_broker_info(broker_id: int, data: bytes | None) -> BrokerInfo:
    """Versions 1 to 5, as Kafka's BrokerIdZNode.decode."""
    path = broker_path(broker_id)
    obj = _object(path, data)
    version = _int32(path, obj, "version")
    if version < 1:
        raise ZkDataError(path, f"unsupported version {version}")
    jmx_port = _int32(path, obj, "jmx_port", default=-1)
    if version == 1:
        endpoints = (EndPoint("PLAINTEXT", _str(path, obj, "host"), _int32(path, obj, "port"), "PLAINTEXT"),)
    else:
        protocol_map = obj.get("listener_security_protocol_map")
        if protocol_map is not None and (
            not isinstance(protocol_map, dict) or not all(isinstance(v, str) for v in protocol_map.values())
        ):
            raise ZkDataError(path, f"'listener_security_protocol_map' must map names to strings: {protocol_map!r}")
        if protocol_map is not None:
            bad = [v for v in protocol_map.values() if v not in SECURITY_PROTOCOLS]
            if bad:
                raise ZkDataError(path, f"unknown security protocol {bad[0]!r}")
            protocol_map = {k.upper(): v for k, v in protocol_map.items()}
        listeners = obj.get("endpoints")
        if not isinstance(listeners, list) or not all(isinstance(e, str) for e in listeners):
            raise ZkDataError(path, f"'endpoints' must be a list of strings, not {listeners!r}")
        try:
            endpoints = tuple(EndPoint.parse(e, protocol_map) for e in listeners)
        except ValueError as exc:
            raise ZkDataError(path, str(exc)) from None
    rack = _str(path, obj, "rack", default=None)
    features = obj.get("features")
    features = {} if features is None else features
    if not isinstance(features, dict) or not all(
        isinstance(r, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in r.values())
        for r in features.values()
    ):
        raise ZkDataError(path, f"'features' must map names to version ranges, not {features!r}")
    timestamp = _long_text(path, obj, "timestamp") if obj.get("timestamp") is not None else None
    return BrokerInfo(broker_id, endpoints, rack, jmx_port, features, version, timestamp)


# -- /brokers/topics/<topic> -----------------------------------------------------------------
@dataclass(frozen=True)
class ReplicaAssignment:
    """A partition's replicas in preference order (the first is the preferred leader), and the
    replicas a reassignment is adding or removing."""

    replicas: tuple[int, ...]
    adding_replicas: tuple[int, ...] = ()
    removing_replicas: tuple[int, ...] = ()


@dataclass(frozen=True)
class TopicAssignment:
    topic: str
    topic_id: bytes | None  # 16 bytes (Kafka's Uuid), None before Kafka 2.8 wrote one
    partitions: Mapping[int, ReplicaAssignment]


def encode_topic_id(topic_id: bytes) -> str:
    """Kafka's Uuid.toString: URL-safe base64 of the 16 bytes without padding (22 characters)."""
    if len(topic_id) != 16:
        raise ValueError(f"a topic id is 16 bytes, not {len(topic_id)}")
    return base64.urlsafe_b64encode(topic_id).rstrip(b"=").decode()


def decode_topic_id(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) != 16:
        raise ValueError(f"{text!r} is not a 16-byte uuid")
    return raw


def generate_cluster_id() -> str:
    """Kafka's CoreUtils.generateUuidAsBase64: a random uuid as 22 URL-safe base64 characters."""
    return encode_topic_id(uuid.uuid4().bytes)


def encode_topic_assignment(topic_id: bytes | None, partitions: Mapping[int, ReplicaAssignment]) -> bytes:
    """Version 3 with ``topic_id`` (Kafka 2.8), version 2 without (Kafka 2.4 to 2.7)."""
    obj: dict[str, Any] = {"version": 3 if topic_id is not None else 2}
    if topic_id is not None:
        obj["topic_id"] = encode_topic_id(topic_id)
    ordered = sorted(partitions.items())
    obj["partitions"] = {str(p): list(a.replicas) for p, a in ordered}
    obj["adding_replicas"] = {str(p): list(a.adding_replicas) for p, a in ordered if a.adding_replicas}
    obj["removing_replicas"] = {str(p): list(a.removing_replicas) for p, a in ordered if a.removing_replicas}
    return _dumps(obj)


def decode_topic_assignment(topic: str, data: bytes | None) -> TopicAssignment:
    """Versions 1 to 3. A missing "partitions" is an empty assignment, as in Kafka."""
    path = topic_path(topic)
    obj = _object(path, data)
    _version(path, obj, (1, 2, 3))
    topic_id = None
    if obj.get("topic_id") is not None:
        try:
            topic_id = decode_topic_id(_str(path, obj, "topic_id"))
        except ValueError as exc:
            raise ZkDataError(path, f"bad topic_id: {exc}") from None
    maps = []
    for key in ("partitions", "adding_replicas", "removing_replicas"):
        m = obj.get(key)
        m = {} if m is None else m
        if not isinstance(m, dict):
            raise ZkDataError(path, f"{key!r} must be an object, not {m!r}")
        for p in m:
            if not p.isdigit():
                raise ZkDataError(path, f"partition {p!r} in {key!r} is not a partition number")
        maps.append({int(p): _int_list(path, r, f"{key}[{p}]") for p, r in m.items()})
    replicas, adding, removing = maps
    return TopicAssignment(
        topic,
        topic_id,
        {p: ReplicaAssignment(r, adding.get(p, ()), removing.get(p, ())) for p, r in sorted(replicas.items())},
    )


# -- /brokers/topics/<topic>/partitions/<p>/state --------------------------------------------
@dataclass(frozen=True)
class LeaderAndIsr:
    """A partition's leader, leader epoch and ISR; ``zk_version`` is the version of the state
    znode it was read from or written as (the partition epoch), the CAS token of the next write."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    zk_version: int = INITIAL_ZK_VERSION

    def with_zk_version(self, zk_version: int) -> LeaderAndIsr:
        return LeaderAndIsr(self.leader, self.leader_epoch, self.isr, zk_version)

    def new_leader_and_isr(self, leader: int, isr: Iterable[int]) -> LeaderAndIsr:
        """The next state: a new leader and ISR in the next leader epoch (same zk_version: it is
        the CAS token of the write that makes this state)."""
        return LeaderAndIsr(leader, self.leader_epoch + 1, tuple(isr), self.zk_version)


@dataclass(frozen=True)
class LeaderIsrAndControllerEpoch:
    leader_and_isr: LeaderAndIsr
    controller_epoch: int


def encode_partition_state(state: LeaderIsrAndControllerEpoch) -> bytes:
    lai = state.leader_and_isr
    # key order as Kafka writes it (and as its documentation shows)
    return _dumps(
        {
            "controller_epoch": state.controller_epoch,
            "leader": lai.leader,
            "version": 1,
            "leader_epoch": lai.leader_epoch,
            "isr": list(lai.isr),
        }
    )


def decode_partition_state(tp: TopicPartition, data: bytes | None, zk_version: int) -> LeaderIsrAndControllerEpoch:
    path = partition_state_path(tp)
    obj = _object(path, data)
    _version(path, obj, (1,))
    isr = _int_list(path, obj.get("isr"), "'isr'")
    return LeaderIsrAndControllerEpoch(
        LeaderAndIsr(_int32(path, obj, "leader"), _int32(path, obj, "leader_epoch"), isr, zk_version),
        _int32(path, obj, "controller_epoch"),
    )


# -- /controller and /controller_epoch -------------------------------------------------------
def encode_controller(broker_id: int, timestamp_ms: int | None = None) -> bytes:
    return _dumps(
        {"version": 1, "brokerid": broker_id, "timestamp": str(_now_ms() if timestamp_ms is None else timestamp_ms)}
    )


def decode_controller(data: bytes | None) -> int:
    """The controller's broker id."""
    obj = _object(CONTROLLER_PATH, data)
    return _int32(CONTROLLER_PATH, obj, "brokerid")


def encode_controller_epoch(epoch: int) -> bytes:
    return str(epoch).encode()


def decode_controller_epoch(data: bytes | None) -> int:
    text = (data or b"").decode(errors="replace").strip()
    if not re.fullmatch(r"-?[0-9]+", text):
        raise ZkDataError(CONTROLLER_EPOCH_PATH, f"not an epoch: {_preview(data or b'')}")
    return int(text)


# -- /config/<type>/<name> and /config/changes -----------------------------------------------
def encode_entity_config(config: Mapping[str, str]) -> bytes:
    return _dumps({"version": 1, "config": {k: str(v) for k, v in config.items()}})


def decode_entity_config(path: str, data: bytes | None) -> dict[str, str]:
    """Empty data or a missing "config" is no override, as in Kafka."""
    if data is None or not data.strip():
        return {}
    obj = _object(path, data)
    config = obj.get("config")
    config = {} if config is None else config
    if not isinstance(config, dict) or not all(isinstance(v, str) for v in config.values()):
        raise ZkDataError(path, f"'config' must map names to strings, not {config!r}")
    return dict(config)


def encode_config_change(entity_path: str) -> bytes:
    """``entity_path`` is "<type>/<name>", e.g. "topics/orders"."""
    return _dumps({"version": 2, "entity_path": entity_path})


def decode_config_change(path: str, data: bytes | None) -> str:
    """The changed entity as "<type>/<name>" (version 2, or version 1's type and name)."""
    obj = _object(path, data)
    version = _version(path, obj, (1, 2))
    if version == 2:
        entity_path = _str(path, obj, "entity_path")
        if "/" not in entity_path:
            raise ZkDataError(path, f"'entity_path' must be <type>/<name>, not {entity_path!r}")
        return entity_path
    entity_type = _str(path, obj, "entity_type")
    if entity_type not in ("topics", "clients"):
        raise ZkDataError(path, f"version 1 'entity_type' must be topics or clients, not {entity_type!r}")
    return f"{entity_type}/{_str(path, obj, 'entity_name')}"


# -- /isr_change_notification/isr_change_<seq> -----------------------------------------------
def encode_isr_change(partitions: Iterable[TopicPartition]) -> bytes:
    return _dumps({"version": 1, "partitions": [{"topic": t, "partition": p} for t, p in partitions]})


def decode_isr_change(path: str, data: bytes | None) -> set[TopicPartition]:
    obj = _object(path, data)
    _version(path, obj, (1,))
    parts = obj.get("partitions")
    if not isinstance(parts, list):
        raise ZkDataError(path, f"'partitions' must be a list, not {parts!r}")
    out = set()
    for item in parts:
        if not isinstance(item, dict):
            raise ZkDataError(path, f"a partition must be an object, not {item!r}")
        out.add(TopicPartition(_str(path, item, "topic"), _int32(path, item, "partition")))
    return out


# -- /cluster/id -----------------------------------------------------------------------------
def encode_cluster_id(cluster_id: str) -> bytes:
    return _dumps({"version": "1", "id": cluster_id})  # "1" as a string: Kafka writes it so


def decode_cluster_id(data: bytes | None) -> str:
    obj = _object(CLUSTER_ID_PATH, data)
    return _str(CLUSTER_ID_PATH, obj, "id")


# -- /latest_producer_id_block ---------------------------------------------------------------
@dataclass(frozen=True)
class ProducerIdBlock:
    """Producer ids ``block_start`` to ``block_end``, both inclusive, claimed by ``broker_id``."""

    broker_id: int
    block_start: int
    block_end: int


def encode_producer_id_block(block: ProducerIdBlock) -> bytes:
    return _dumps(
        {
            "version": 1,
            "broker": block.broker_id,
            "block_start": str(block.block_start),
            "block_end": str(block.block_end),
        }
    )


def decode_producer_id_block(data: bytes | None) -> ProducerIdBlock | None:
    """None for the empty znode every broker creates at start-up (no block handed out yet)."""
    if data is None or not data.strip():
        return None
    path = PRODUCER_ID_BLOCK_PATH
    obj = _object(path, data)
    _version(path, obj, (1,))
    block = ProducerIdBlock(
        _int32(path, obj, "broker"), _long_text(path, obj, "block_start"), _long_text(path, obj, "block_end")
    )
    if not 0 <= block.block_start <= block.block_end:
        raise ZkDataError(path, f"block_start {block.block_start} and block_end {block.block_end} are not a block")
    return block


def next_producer_id_block(current: ProducerIdBlock | None, broker_id: int) -> ProducerIdBlock:
    """The block after ``current`` (the first block, 0-999, after none)."""
    if current is None:
        return ProducerIdBlock(broker_id, 0, PRODUCER_ID_BLOCK_SIZE - 1)
    if current.block_end > 2**63 - 1 - PRODUCER_ID_BLOCK_SIZE:
        raise ZkDataError(PRODUCER_ID_BLOCK_PATH, "producer ids are exhausted")
    return ProducerIdBlock(broker_id, current.block_end + 1, current.block_end + PRODUCER_ID_BLOCK_SIZE)
