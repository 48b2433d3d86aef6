"""Where a request goes in the multi-process topology: a table keyed by API, built from the
``ROUTE`` each API module declares (kinds: hpbroker/broker/routes.py), and the functions that
cut requests by owner and join the owners' answers.

- ``PROCESSOR``: the processor answers it itself (ApiVersions, Metadata, FindCoordinator,
  DescribeCluster, DescribeLogDirs, ACLs) against its broker view; what only the controller
  may do (creating an auto-created topic, or __consumer_offsets on the first FindCoordinator)
  that view asks of the controller through the ring (server/multiproc/processor_broker.py).
- ``FETCH``: the processor serves it from the segment files (PartitionLogReader + sendfile),
  below the high watermarks published in the partition table. A follower's Fetch (replica id
  >= 0) goes to the handlers owning its partitions instead, cut by owner as a PARTITIONED
  request (``cut_replica_fetch``): the owner tracks the follower's log end offset, moves the
  HW and wakes acks=all Produces. Its answer, records included, comes back through a response
  ring, so max_bytes and partition_max_bytes are capped to fit one ring record; a first batch
  larger than that cap (KIP-74 returns it whole) cannot be replicated from this topology.
  Brokers with the same handler count own a partition in the same handler, so a follower
  handler's Fetch reaches exactly one leader handler; otherwise each part long-polls on its own
  and the answer waits for the last (at most replica.fetch.wait.max.ms).
- ``PARTITIONED``: split by owning handler, in one place (``cut_by_owner``). Each handler gets
  a sub-request holding only the topics and partitions it owns: a Produce is cut on its bytes
  (produce_split.py), anything else decoded and cut as dicts (``split_by_owner``) then
  re-encoded around views of the original record batches, so each record byte is copied once,
  into one ring; the processor joins the partial answers in request order (``Split`` names the
  fields that hold the topics and partitions).
- ``CONTROLLER``: forwarded whole to handler 0, which acts as the node's controller (topic
  registry changes, configs, producer ids).
- ``GROUP``: forwarded whole to the handler owning the group's ``__consumer_offsets``
  partition (group id -> partition as Kafka's ``Utils.abs(groupId.hashCode) %
  offsets.topic.num.partitions`` -> owner), which holds that partition's coordinator shard.
- ``GROUPS``: a request naming several groups (DescribeGroups, DeleteGroups) is cut into one
  sub-request per owning handler, each holding that handler's groups (``split_groups``); the
  per-group answers are put back in the order of the request (``join_group_answers``).
- ``EVERY``: ListGroups asks every handler (each lists the groups of its own shards); the
  lists are concatenated (``join_every``).

Before ``__consumer_offsets`` exists, every group API goes to the controller, the only process
that creates topics: the first group request creates it there (a group another handler will
own is then answered NOT_COORDINATOR, and the client looks its coordinator up again).

There is no default route: an API module without a ``ROUTE`` is refused when the registry is
built, so every API key the broker serves is in ``ROUTES``.

Partition ownership: ``owner(topic, partition, handlers)`` = (CRC-32 of the topic name +
partition) modulo the handler count: a topic's partitions go round-robin over the handlers from
a start that depends on the topic (Kafka assigns replicas the same way), so a 4-partition topic
on 2 handlers is split 2 + 2. (CRC-32 of "topic-partition" modulo a power of two is not: CRC is
linear, so "t-0".."t-3" can all land on one handler.) zlib.crc32 is the same in every process
and across restarts; Python's ``hash`` of a str is salted per process and must not be used.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

from hpbroker import protocol
from hpbroker.broker.routes import GroupSplit, Route, Split
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC
from hpbroker.coordinator.records import partition_for
from hpbroker.handlers import REGISTRY
from hpbroker.server.multiproc import produce_split
from hpbroker.transaction.coordinator import TRANSACTION_STATE_TOPIC

CONTROLLER_HANDLER = 0
PRODUCE = 0
# A follower's Fetch is answered through a response ring: at most this much, less the headroom
# for the response's headers and per-partition fields (topology.CLUSTER_RESPONSE_RING_BYTES)
REPLICA_FETCH_MAX_BYTES = 2 << 20
REPLICA_FETCH_HEADROOM = 64 << 10

#: api key -> where it runs, from each API module's declaration
ROUTES: dict[int, Route] = {key: module.ROUTE for key, module in REGISTRY.items()}


def route_for(api_key: int) -> Route:
    """The route of a registered API (callers check the registry first: KeyError otherwise)."""
    return ROUTES[api_key]


def owner(topic: str, partition: int, handlers: int) -> int:
    """The handler that owns (and is the only writer of) ``topic``-``partition``. The
    ``__consumer_offsets`` partitions are spread like any topic's, and with each one the
    coordinator shard of the groups that hash to it. Every ``__transaction_state`` partition
    is handler 0's: the transaction coordinator is one per node there, next to the controller
    that hands out producer ids (a few requests per transaction, against a Produce per batch)."""
    if topic == TRANSACTION_STATE_TOPIC:
        return CONTROLLER_HANDLER
    return (zlib.crc32(topic.encode()) + partition) % handlers


def group_owner(group_id: str, offsets_partitions: int, handlers: int) -> int:
    """The handler coordinating ``group_id``; ``offsets_partitions`` is the partition count
    ``__consumer_offsets`` was created with (not today's config: that decides new topics only)."""
    return owner(GROUP_METADATA_TOPIC, partition_for(group_id, offsets_partitions), handlers)


def split_groups(request: dict, groups: GroupSplit, owner_of) -> dict[int, dict]:
    """``request`` cut into one request per owning handler (``owner_of(group_id)``), owners in
    first-seen order, each naming that handler's groups in request order; other fields shared."""
    ids_of: dict[int, list] = {}
    for group_id in request[groups.req_groups]:
        ids_of.setdefault(owner_of(group_id or ""), []).append(group_id)
    out = {}
    for h, ids in ids_of.items():
        out[h] = dict(request)
        out[h][groups.req_groups] = ids
    return out


def join_group_answers(group_ids: list, groups: GroupSplit, parts: list[dict]) -> dict:
    """One response from the partial answers of several handlers: the per-group answers in the
    order of ``group_ids`` (the request's). A group named twice is answered twice by its one
    owner, in order, so the answers of each id are taken first in, first out."""
    bodies = [b for b in parts if b is not None]
    answers: dict[str, list] = {}
    for a in (a for b in bodies for a in b[groups.resp_groups]):
        answers.setdefault(a["group_id"], []).append(a)
    out = dict(bodies[0]) if bodies else {}
    out[groups.resp_groups] = [answers[g].pop(0) for g in group_ids if answers.get(g)]
    if "throttle_time_ms" in out:
        out["throttle_time_ms"] = max(b.get("throttle_time_ms", 0) for b in bodies)
    return out


def join_every(parts: list[dict]) -> dict:
    """ListGroups from every handler's answer: the groups of all of them, and the first error
    (each handler lists only the groups of its own shards, so none is listed twice)."""
    bodies = [b for b in parts if b is not None]
    out = dict(bodies[0])
    out["groups"] = [g for b in bodies for g in b["groups"]]
    out["error_code"] = next((b["error_code"] for b in bodies if b["error_code"]), 0)
    if "throttle_time_ms" in out:
        out["throttle_time_ms"] = max(b.get("throttle_time_ms", 0) for b in bodies)
    return out


def split_by_owner(request: dict, split: Split, handlers: int) -> dict[int, dict]:
    """``request`` cut into one request per owning handler, owners in first-seen order (as
    ``owners_of``), each holding that handler's topics and partitions in request order (topics
    with none are left out); the other fields are shared. Partition dicts are the request's
    own: their ``records`` stay views of the frame, nothing is copied."""
    if split.outer is not None:
        units_of: dict[int, list] = {}
        for u in request[split.outer]:
            for h, sub in split_by_owner(u, split.inner, handlers).items():
                units_of.setdefault(h, []).append(sub)
        return {h: {**request, split.outer: units} for h, units in units_of.items()}
    topics_of: dict[int, list] = {}
    key = split.req_index
    for t in request[split.req_topics]:
        name = t[split.req_name]
        mine: dict[int, list] = {}
        for p in t[split.req_partitions]:
            mine.setdefault(owner(name, p if key is None else p[key], handlers), []).append(p)
        for h, parts in mine.items():
            sub = dict(t)
            sub[split.req_partitions] = parts
            topics_of.setdefault(h, []).append(sub)
    out = {}
    for h, topics in topics_of.items():
        out[h] = dict(request)
        out[h][split.req_topics] = topics
    return out


def replica_id(frame, offset: int) -> int:
    """The replica id of a Fetch (v4-v11: the first field of the body at ``offset``), read
    without decoding it; -1 (a consumer's: the ordinary path decodes it and says what is wrong)
    if it is not there."""
    try:
        return _I32.unpack_from(frame, offset)[0]
    except struct.error:
        return -1


def cut_replica_fetch(header, frame, offset: int, split: Split, handlers: int, cap: int) -> tuple[dict, dict]:
    """A follower's Fetch cut by owning handler: ({handler: sub-request}, what joining needs).
    max_bytes and every partition_max_bytes are capped at ``cap`` (one response ring record).
    Raises ProtocolError if the body does not decode."""
    request = protocol.decode_request(header.api_key, header.api_version, frame, offset)
    request["max_bytes"] = min(request.get("max_bytes", cap), cap)
    for t in request[split.req_topics]:
        for p in t[split.req_partitions]:
            p["partition_max_bytes"] = min(p["partition_max_bytes"], cap)
    subs = split_by_owner(request, split, handlers) or {CONTROLLER_HANDLER: request}  # none: any answers
    return subs, partition_order(request, split)


class Cut(NamedTuple):
    """A per-partition request cut by owning handler."""

    owners: list[int]  # distinct owning handlers, in first-seen order
    parts: dict[int, list] | None  # handler -> its sub-request as chunks of a frame; None: one owner
    order: object  # what joining the answers needs (produce_split.Order, or partition_order's)


def cut_by_owner(header, frame, offset: int, split: Split, handlers: int) -> Cut:
    """The one place a PARTITIONED request (``frame`` without its size prefix, its body at
    ``offset``) is cut by owner, for both ways a processor takes a frame (``route``, and
    ``route_slot`` for a large Produce received straight into a ring record). A Produce the
    broker serves is cut on its bytes (produce_split.py); anything else, or a Produce that walk
    doubts, is decoded, cut as dicts (``split_by_owner``) and each part encoded around views of
    the frame's record batches. Raises ProtocolError if the body does not decode."""
    if handlers == 1:
        return Cut([0], None, None)
    api_key, version = header.api_key, header.api_version
    if api_key == PRODUCE and version in produce_split.VERSIONS:
        layout = produce_split.scan(frame, offset)
        if layout is not None:
            owners = produce_split.owners(layout, handlers)
            if len(owners) < 2:
                return Cut(owners, None, None)
            return Cut(owners, produce_split.split(frame, offset, layout, handlers), produce_split.order_of(layout))
    request = protocol.decode_request(api_key, version, frame, offset)
    owners = owners_of(request, split, handlers)
    if len(owners) < 2:
        return Cut(owners, None, None)
    parts = {
        h: protocol.encode_request_parts(api_key, version, header.correlation_id, header.client_id, sub)
        for h, sub in split_by_owner(request, split, handlers).items()
    }
    return Cut(owners, parts, partition_order(request, split))


def partition_order(request: dict, split: Split) -> dict:
    """The topic names and partition indexes of ``request``, in order, and nothing else: what
    ``join_responses`` needs, without holding views of the frame (its buffer is reused, and
    grown, while the answers are awaited)."""
    if split.outer is not None:
        inner, outer_key = split.inner, split.outer_key
        return {split.outer: [{outer_key: u[outer_key], **partition_order(u, inner)} for u in request[split.outer]]}
    key = split.req_index
    return {
        split.req_topics: [
            {
                split.req_name: t[split.req_name],
                split.req_partitions: [p if key is None else {key: p[key]} for p in t[split.req_partitions]],
            }
            for t in request[split.req_topics]
        ]
    }


def owners_of(request: dict, split: Split, handlers: int) -> list[int]:
    """Distinct owning handlers of a per-partition request, in first-seen order."""
    seen: dict[int, None] = {}
    if split.outer is not None:
        for u in request[split.outer]:
            seen.update(dict.fromkeys(owners_of(u, split.inner, handlers)))
        return list(seen)
    key = split.req_index
    for t in request[split.req_topics]:
        name = t[split.req_name]
        for p in t[split.req_partitions]:
            seen.setdefault(owner(name, p if key is None else p[key], handlers), None)
    return list(seen)


def join_responses(request: dict, split: Split, parts: list[dict]) -> dict:
    """One response from the partial answers of several handlers, topics and partitions in the
    order of the request (clients match answers by name and index, some also by position)."""
    if split.outer is not None:
        inner, outer, outer_key = split.inner, split.outer, split.outer_key
        bodies = [b for b in parts if b is not None]
        units = []
        for u in request[outer]:
            mine = [a for b in bodies for a in b[outer] if a[outer_key] == u[outer_key]]
            joined = join_responses(u, inner, mine)
            units.append({outer_key: u[outer_key], inner.resp_topics: joined[inner.resp_topics]})
        out = dict(bodies[0]) if bodies else {}
        out[outer] = units
        return out
    answers: dict[tuple[str, int], dict] = {}
    base = None
    for body in parts:
        if body is None:
            continue
        if base is None:
            base = body
        for t in body[split.resp_topics]:
            for p in t[split.resp_partitions]:
                index = p.get("index", p.get("partition_index"))
                answers[(t[split.resp_name], index)] = p
    out = dict(base or {})
    topics = []
    key = split.req_index
    for t in request[split.req_topics]:
        name = t[split.req_name]
        wanted = [(name, p if key is None else p[key]) for p in t[split.req_partitions]]
        ps = [answers[k] for k in wanted if k in answers]
        topics.append({split.resp_name: name, split.resp_partitions: ps})
    out[split.resp_topics] = topics
    return out


# Produce v3-v8 (not flexible), as far as the first partition index. Big-endian, after the
# frame's size prefix:
#
#     request header v1  api_key i16 (0) | api_version i16 | correlation_id i32 |
#                        client_id i16-length nullable string
#     body               transactional_id i16-length nullable string | acks i16 | timeout_ms i32 |
#                        topic_data count i32 | name i16-length string |
#                        partition_data count i32 | index i32 | records ...
PRODUCE_PREFIX_VERSIONS = range(3, 9)
_I16, _I32 = struct.Struct(">h"), struct.Struct(">i")


def produce_first_partition(head) -> tuple[int, str, int] | None:
    """(api_version, topic, partition) of the first partition of a Produce request whose first
    bytes are ``head`` (the frame without its size prefix), read without decoding the rest;
    None when ``head`` is anything else, is too short, or looks wrong in any way (the caller
    then takes the ordinary path, which decodes everything)."""
    try:
        api_key, version = _I16.unpack_from(head, 0)[0], _I16.unpack_from(head, 2)[0]
        if api_key != PRODUCE or version not in PRODUCE_PREFIX_VERSIONS:
            return None
        pos = 8
        for _ in range(2):  # client_id, transactional_id: nullable strings
            n = _I16.unpack_from(head, pos)[0]
            if n < -1:
                return None
            pos += 2 + max(n, 0)
        pos += 2 + 4  # acks, timeout_ms
        if _I32.unpack_from(head, pos)[0] < 1:
            return None
        n = _I16.unpack_from(head, pos + 4)[0]
        pos += 6
        if n < 0 or pos + n > len(head):
            return None
        topic = str(head[pos : pos + n], "utf-8")
        pos += n
        if _I32.unpack_from(head, pos)[0] < 1:
            return None
        index = _I32.unpack_from(head, pos + 4)[0]
    except (struct.error, UnicodeDecodeError):
        return None
    return (version, topic, index) if index >= 0 else None
