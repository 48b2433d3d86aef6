"""One module per Kafka API, each declaring ``API_KEY``, ``MIN_VERSION``, ``MAX_VERSION``,
``ROUTE`` (where it runs in the multi-process topology: hpbroker/broker/routes.py) and
``handle(ctx, request) -> response dict | None | awaitable``.

``REGISTRY`` lists them all; the ApiVersions answer is computed from it, never hand-maintained,
and so is the multi-process routing table. A module that lacks a declaration, declares one of
the wrong kind, serves versions the protocol layer cannot decode, or takes an API key another
module has, is refused here, at import (``RegistryError``).
A handler returns ``None`` only when the protocol sends no response (Produce with acks=0).
"""

from __future__ import annotations

from types import ModuleType

from hpbroker.broker.routes import Route
from hpbroker.handlers import (
    add_offsets_to_txn,
    add_partitions_to_txn,
    alter_configs,
    alter_user_scram_credentials,
    api_versions,
    controlled_shutdown,
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
    describe_transactions,
    describe_user_scram_credentials,
    end_txn,
    fetch,
    find_coordinator,
    heartbeat,
    incremental_alter_configs,
    init_producer_id,
    join_group,
    leader_and_isr,
    leave_group,
    list_groups,
    list_offsets,
    list_transactions,
    metadata,
    offset_commit,
    offset_delete,
    offset_fetch,
    offset_for_leader_epoch,
    produce,
    sasl_authenticate,
    sasl_handshake,
    stop_replica,
    sync_group,
    txn_offset_commit,
    update_metadata,
    write_txn_markers,
)
from hpbroker.protocol import SUPPORTED_VERSIONS

#: the inter-broker APIs: what the controller sends brokers, and a stopping broker the controller
_CLUSTER_MODULES = (leader_and_isr, stop_replica, update_metadata, controlled_shutdown)

_MODULES = (
    produce,
    fetch,
    list_offsets,
    metadata,
    *_CLUSTER_MODULES,
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
    offset_for_leader_epoch,
    add_partitions_to_txn,
    add_offsets_to_txn,
    end_txn,
    write_txn_markers,
    txn_offset_commit,
    describe_cluster,
    describe_log_dirs,
    describe_producers,
    describe_transactions,
    list_transactions,
    describe_acls,
    create_acls,
    delete_acls,
    sasl_handshake,
    sasl_authenticate,
    describe_user_scram_credentials,
    alter_user_scram_credentials,
)


class RegistryError(TypeError):
    """An API module's declarations are missing or wrong."""


def build_registry(modules) -> dict[int, ModuleType]:
    """api_key -> module, every module's declarations checked."""
    registry: dict[int, ModuleType] = {}
    for m in modules:
        missing = [n for n in ("API_KEY", "MIN_VERSION", "MAX_VERSION", "ROUTE", "handle") if not hasattr(m, n)]
        if missing:
            raise RegistryError(f"API module {m.__name__} does not declare {', '.join(missing)}")
        if not isinstance(m.ROUTE, Route):
            raise RegistryError(f"API module {m.__name__}: ROUTE is {m.ROUTE!r}, not a Route")
        if not callable(m.handle):
            raise RegistryError(f"API module {m.__name__}: handle is not callable")
        decodable = SUPPORTED_VERSIONS.get(m.API_KEY)
        if decodable is None or not decodable[0] <= m.MIN_VERSION <= m.MAX_VERSION <= decodable[1]:
            raise RegistryError(
                f"API module {m.__name__}: versions {m.MIN_VERSION}-{m.MAX_VERSION} of api key "
                f"{m.API_KEY} are not all decodable (protocol layer: {decodable})"
            )
        if m.API_KEY in registry:
            raise RegistryError(
                f"API modules {registry[m.API_KEY].__name__} and {m.__name__} both declare api key {m.API_KEY}"
            )
        registry[m.API_KEY] = m
    return registry


REGISTRY = build_registry(_MODULES)
CLUSTER_ONLY = frozenset(m.API_KEY for m in _CLUSTER_MODULES)


def supported_versions(cluster: bool = False) -> dict[int, tuple[int, int]]:
    """api_key -> (min_version, max_version) advertised in ApiVersions. The inter-broker APIs
    (``CLUSTER_ONLY``) only by a broker in a cluster: a ZooKeeper-mode Kafka
    broker lists them to clients too, a single node has nobody to take them from."""
    return {k: (m.MIN_VERSION, m.MAX_VERSION) for k, m in sorted(REGISTRY.items()) if cluster or k not in CLUSTER_ONLY}


api_versions.advertise(supported_versions(cluster=False), supported_versions(cluster=True))
