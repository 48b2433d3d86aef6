"""DescribeLogDirs (key 35), versions 0-4: per log directory, the size on disk of each partition
it holds (``kafka-log-dirs --describe``, AdminClient ``describeLogDirs``, and the topic sizes UIs
show), and from v4 the volume's total and usable bytes.

As Kafka's ReplicaManager.describeLogDirs:
- one result per configured log dir (duplicates once, in config order), its absolute path;
- ``topics`` null asks for every partition, otherwise for the partitions named; a partition this
  broker does not hold is left out, not an error;
- a topic appears under a dir when any of its partitions lives there, with the requested
  partitions among them (possibly none);
- ``partition_size`` is the sum of the partition's segment files; ``offset_lag`` is
  max(high watermark - log end offset, 0), always 0 on the leader, which every partition of a
  single node is; there are no future logs (``is_future_key`` false);
- a dir that cannot be read answers KAFKA_STORAGE_ERROR, the others answer normally.

The sizes are read from the file system (a listing and a stat per segment), not from the
partition objects: in the multi-process mode a processor answers this request from its metadata
snapshot and the segment files, as it serves Fetch, and the in-process mode runs the same code.
"""

from __future__ import annotations

import os

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, Operation, ResourceType
from hpbroker.storage.segment import LOG_SUFFIX

API_KEY = 35
MIN_VERSION, MAX_VERSION = 0, 4
ROUTE = Route(PROCESSOR)

_SEGMENT_STEM = 20  # digits of a segment file's base offset (storage/segment.py segment_name)
_INT64_MAX = (1 << 63) - 1


def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    if not ctx.authorize(Operation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "results": []}
    topics = broker.metadata.topics
    wanted = _wanted(request.get("topics"), topics)
    results = []
    seen = set()
    for d in broker.log_dirs:
        path = os.path.abspath(d)
        if path in seen:
            continue
        seen.add(path)
        results.append(describe_dir(path, topics, wanted))
    return {"throttle_time_ms": 0, "error_code": 0, "results": results}


def _wanted(topics, registry) -> dict[str, set[int]] | None:
    """topic -> the partition indexes asked for that this broker has; None (every partition)
    for ``topics`` null. Bounded by the partitions that exist, whatever the request lists."""
    if topics is None:
        return None
    wanted: dict[str, set[int]] = {}
    for t in topics:
        info = registry.get(t["topic"])
        if info is not None:
            n = info.num_partitions
            wanted.setdefault(info.name, set()).update(p for p in t["partitions"] if 0 <= p < n)
    return wanted


def describe_dir(path: str, registry, wanted: dict[str, set[int]] | None) -> dict:
    result = {"error_code": 0, "log_dir": path, "topics": [], "total_bytes": -1, "usable_bytes": -1}
    try:
        st = os.statvfs(path)
        present = set(os.listdir(path))
    except OSError:
        result["error_code"] = ErrorCode.KAFKA_STORAGE_ERROR
        return result
    # Java's FileStore sizes: blocks x fragment size; "usable" is what an unprivileged writer
    # may still use (f_bavail, not f_bfree)
    result["total_bytes"] = min(st.f_blocks * st.f_frsize, _INT64_MAX)
    result["usable_bytes"] = min(st.f_bavail * st.f_frsize, _INT64_MAX)
    for info in registry:
        held = [p for p in range(info.num_partitions) if f"{info.name}-{p}" in present]
        if not held:
            continue
        asked = None if wanted is None else wanted.get(info.name, ())
        partitions = []
        for p in held:
            if asked is not None and p not in asked:
                continue
            size = partition_size(os.path.join(path, f"{info.name}-{p}"))
            if size is None:  # deleted between the listing and now
                continue
            partitions.append({"partition_index": p, "partition_size": size, "offset_lag": 0, "is_future_key": False})
        result["topics"].append({"name": info.name, "partitions": partitions})
    return result


def partition_size(directory: str) -> int | None:
    """Bytes in the segment files of one partition directory (Kafka's ``log.size``); files of
    an unfinished cleaning pass (its subdirectories) do not count. None if it is gone."""
    total = 0
    try:
        with os.scandir(directory) as entries:
            for e in entries:
                name = e.name
                if (
                    name.endswith(LOG_SUFFIX)
                    and len(name) == _SEGMENT_STEM + len(LOG_SUFFIX)
                    and name[:_SEGMENT_STEM].isdigit()
                ):
                    try:
                        total += e.stat().st_size
                    except FileNotFoundError:  # removed by retention meanwhile
                        pass
    except (FileNotFoundError, NotADirectoryError):
        return None
    return total
