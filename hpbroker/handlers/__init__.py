"""One module per Kafka API, each declaring ``API_KEY``, ``MIN_VERSION``, ``MAX_VERSION`` and
``handle(ctx, request) -> response dict | None | awaitable``.

``REGISTRY`` lists them all; the ApiVersions answer is computed from it, never hand-maintained.
A handler returns ``None`` only when the protocol sends no response (Produce with acks=0).
"""
from __future__ import annotations

from hpbroker.handlers import (
    alter_configs,
    api_versions,
    create_acls,
    create_partitions,
    create_topics,
    delete_acls,
    delete_groups,
    delete_records,
    delete_topics,
    describe_acls,
    describe_cluster,
    describe_configs,
    describe_groups,
    describe_log_dirs,
    describe_producers,
    fetch,
    find_coordinator,
    heartbeat,
    incremental_alter_configs,
    init_producer_id,
    join_group,
    leave_group,
    list_groups,
    list_offsets,
    metadata,
    offset_commit,
    offset_delete,
    offset_fetch,
    produce,
    sync_group,
)

_MODULES = (
    produce,
    fetch,
    list_offsets,
    metadata,
    api_versions,
    create_topics,
    delete_topics,
    delete_records,
    init_producer_id,
    describe_configs,
    alter_configs,
    incremental_alter_configs,
    create_partitions,
    offset_commit,
    offset_fetch,
    find_coordinator,
    join_group,
    heartbeat,
    leave_group,
    sync_group,
    describe_groups,
    list_groups,
    delete_groups,
    offset_delete,
    describe_cluster,
    describe_log_dirs,
    describe_producers,
    describe_acls,
    create_acls,
    delete_acls,
)

REGISTRY = {m.API_KEY: m for m in _MODULES}


def supported_versions() -> dict[int, tuple[int, int]]:
    """api_key -> (min_version, max_version) advertised in ApiVersions."""
    return {k: (m.MIN_VERSION, m.MAX_VERSION) for k, m in sorted(REGISTRY.items())}
