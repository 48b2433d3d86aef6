"""Helpers for the cluster tests: exact requests to one broker of a cluster, and what each
broker's metadata says."""

from __future__ import annotations

import uuid

import pytest

from hpbroker import environment
from hpbroker.coordinator.records import partition_for
from hpbroker.records.builder import build_batch
from hpbroker.testing import wait_until
from tests.integration.rawclient import RawClient

#: the tests that run clusters of brokers run in the compiled pass of ``make test`` only: the
#: control plane has no Cython module (nothing differs in the pure pass but the brokers' data
#: path, which tests/integration covers in both), and a cluster costs seconds per test
CLUSTER_OF_BROKERS = pytest.mark.skipif(
    environment.flag("HPBROKER_PURE"), reason="clusters of brokers run in the compiled pass (tests/cluster/brokers.py)"
)

METADATA, PRODUCE, FETCH, LIST_OFFSETS, CREATE_TOPICS, DESCRIBE_CONFIGS = 3, 0, 1, 2, 19, 32
FIND_COORDINATOR, INIT_PRODUCER_ID, API_VERSIONS = 10, 22, 18


def request(bootstrap: str, api_key: int, version: int, body: dict) -> dict:
    with RawClient(bootstrap) as c:
        return c.request(api_key, version, body)


def metadata(bootstrap: str, topics: list[str] | None = None) -> dict:
    body = {
        "topics": None if topics is None else [{"name": t} for t in topics],
        "allow_auto_topic_creation": False,
        "include_cluster_authorized_operations": False,
        "include_topic_authorized_operations": False,
    }
    return request(bootstrap, METADATA, 8, body)


def leaders(bootstrap: str, topic: str) -> dict[int, int] | None:
    """partition -> leader id in this broker's metadata (None: the topic is unknown there)."""
    t = metadata(bootstrap, [topic])["topics"][0]
    if t["error_code"]:
        return None
    return {p["partition_index"]: p["leader_id"] for p in t["partitions"]}


def partition_errors(bootstrap: str, topic: str) -> dict[int, tuple[int, int]]:
    """partition -> (error code, leader id) in this broker's metadata."""
    t = metadata(bootstrap, [topic])["topics"][0]
    return {p["partition_index"]: (p["error_code"], p["leader_id"]) for p in t["partitions"]}


def wait_for_leaders(cluster, topic: str, partitions: int, timeout: float = 20) -> dict[int, int]:
    """Until every running broker's metadata gives every partition a live leader, and they agree."""

    def agreed():
        seen = [leaders(b.bootstrap, topic) for b in cluster.brokers.values() if b.running]
        live = {i for i, b in cluster.brokers.items() if b.running}
        first = seen[0]
        if first is None or len(first) != partitions or any(s != first for s in seen):
            return None
        return first if all(leader in live for leader in first.values()) else None

    return wait_until(agreed, timeout, f"every broker to agree on the leaders of {topic}")


def produce(bootstrap: str, topic: str, partition: int, values: list[bytes]) -> tuple[int, int]:
    """(error code, base offset) of one acks=1 Produce of ``values`` to one broker."""
    body = {
        "transactional_id": None,
        "acks": 1,
        "timeout_ms": 5000,
        "topic_data": [
            {
                "name": topic,
                "partition_data": [{"index": partition, "records": build_batch([(None, v) for v in values])}],
            }
        ],
    }
    p = request(bootstrap, PRODUCE, 8, body)["responses"][0]["partition_responses"][0]
    return p["error_code"], p["base_offset"]


def fetch_error(bootstrap: str, topic: str, partition: int) -> int:
    body = {
        "replica_id": -1,
        "max_wait_ms": 0,
        "min_bytes": 1,
        "max_bytes": 1 << 20,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": partition,
                        "current_leader_epoch": -1,
                        "fetch_offset": 0,
                        "log_start_offset": -1,
                        "partition_max_bytes": 1 << 20,
                    }
                ],
            }
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }
    return request(bootstrap, FETCH, 11, body)["responses"][0]["partitions"][0]["error_code"]


def create_topics(bootstrap: str, name: str, partitions: int, rf: int = 1, assignments=None) -> dict:
    body = {
        "topics": [
            {
                "name": name,
                "num_partitions": partitions,
                "replication_factor": rf,
                "assignments": assignments or [],
                "configs": [],
            }
        ],
        "timeout_ms": 15000,
        "validate_only": False,
    }
    return request(bootstrap, CREATE_TOPICS, 4, body)["topics"][0]


def find_coordinator(bootstrap: str, group: str) -> dict:
    return request(bootstrap, FIND_COORDINATOR, 2, {"key": group, "key_type": 0})


def offsets_partition(group: str, partitions: int = 50) -> int:
    return partition_for(group, partitions)


def new_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
