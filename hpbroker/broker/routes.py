"""Where an API runs in the multi-process topology: each API module declares its ``ROUTE``.

A processor (it holds the client's connection) either serves a request itself or forwards it
through the shared-memory rings to the handler processes; server/multiproc/routing.py builds
its table from these declarations (an API module without one is refused when the registry is
built, hpbroker/handlers/__init__.py). The kinds:

- ``PROCESSOR``: the processor serves it from what every process knows (its metadata cache,
  the segment files); what it cannot do itself, it asks of the controller through its broker
  interface (ApiVersions, Metadata, FindCoordinator, DescribeCluster, DescribeLogDirs, the SASL
  requests, which change the connection's state).
- ``FETCH``: the processor serves it from the segment files, below the high watermarks the
  owners publish; a long poll parks in the processor. A follower's Fetch (a replica id), which
  moves the leader's state, goes to the owning handlers instead, cut by owner as a PARTITIONED
  request is (``split``).
- ``PARTITIONED``: split by owning handler. Each owner gets a sub-request holding only its
  topics and partitions, and the partial answers are joined in request order (``split``
  names the fields that hold the topics and partitions).
- ``CONTROLLER``: forwarded whole to the controller (handler 0): topic registry changes,
  configs, producer ids, ACLs.
- ``GROUP``: forwarded whole to the handler coordinating the group named by ``group_field``
  (the owner of the group's __consumer_offsets partition).
- ``GROUPS``: a request naming several groups, split by coordinating handler (``groups``
  names the request's list and the answer's), answers joined in request order.
- ``EVERY``: asked of every handler, answers concatenated (ListGroups).

In the in-process topology every API runs in the one process and these declarations are not
consulted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

PROCESSOR, FETCH, PARTITIONED, CONTROLLER = "processor", "fetch", "partitioned", "controller"
GROUP, GROUPS, EVERY = "group", "groups", "every"
KINDS = (PROCESSOR, FETCH, PARTITIONED, CONTROLLER, GROUP, GROUPS, EVERY)


@dataclass(frozen=True)
class Split:
    """Field names of a per-partition request and its response (snake_case, as decoded).
    ``req_index`` None: the request lists partitions as bare indexes (an int32 array, as
    DescribeProducers' partition_indexes), not as structs holding one. ``outer``: the topics
    sit in each element of this list (in the request and the response alike), told apart by
    ``outer_key`` (WriteTxnMarkers: a list of markers, each with its producer id and topics);
    each element is cut as a request of its own."""

    req_topics: str
    req_name: str
    req_partitions: str
    req_index: str | None
    resp_topics: str
    resp_name: str
    resp_partitions: str
    outer: str | None = None
    outer_key: str | None = None

    @property
    def inner(self) -> Split:
        """The split of one element of ``outer``."""
        return replace(self, outer=None, outer_key=None)


@dataclass(frozen=True)
class GroupSplit:
    """Field names of a request naming several groups and of its per-group answers."""

    req_groups: str  # the request's list of group ids
    resp_groups: str  # the response's list of per-group answers, each with a "group_id"


@dataclass(frozen=True)
class Route:
    kind: str
    split: Split | None = None
    group_field: str | None = None
    groups: GroupSplit | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown route kind {self.kind!r}")
        if (self.kind == PARTITIONED and self.split is None) or (
            self.split is not None and self.kind not in (PARTITIONED, FETCH)
        ):
            raise ValueError("a PARTITIONED route names its split fields, and only it and FETCH may")
        if (self.kind == GROUP) != (self.group_field is not None):
            raise ValueError("a GROUP route, and only one, names its group id field")
        if (self.kind == GROUPS) != (self.groups is not None):
            raise ValueError("a GROUPS route, and only one, names its group list fields")


def owned_request(request: dict, split: Split, is_mine) -> dict:
    """``request`` restricted to the partitions ``is_mine(topic, index)`` (topics with none
    left are dropped); the handler code then runs unchanged on it."""
    if split.outer is not None:
        inner = split.inner
        units = (owned_request(u, inner, is_mine) for u in request[split.outer])
        out = dict(request)
        out[split.outer] = [u for u in units if u[inner.req_topics]]
        return out
    topics = []
    key = split.req_index
    for t in request[split.req_topics]:
        name = t[split.req_name]
        parts = [p for p in t[split.req_partitions] if is_mine(name, p if key is None else p[key])]
        if parts:
            t = dict(t)
            t[split.req_partitions] = parts
            topics.append(t)
    out = dict(request)
    out[split.req_topics] = topics
    return out
