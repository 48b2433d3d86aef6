"""Which Kafka APIs the protocol layer knows, the versions it decodes, and header versions.

``SUPPORTED_VERSIONS`` is what this codec can decode and encode (and what the tests round-trip);
what the broker *advertises* in ApiVersions is the handlers' registry, which must stay inside
these ranges. The ranges reach one version past each API's first flexible version where Kafka
has one, so advertising a flexible version later is a change of data, not of code.
"""

from __future__ import annotations

from types import MappingProxyType

from hpbroker.protocol.messages import (
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
from hpbroker.protocol.schema import Message

_MODULES = (
    produce,
    fetch,
    list_offsets,
    metadata,
    leader_and_isr,
    stop_replica,
    update_metadata,
    controlled_shutdown,
    offset_commit,
    offset_fetch,
    find_coordinator,
    join_group,
    heartbeat,
    leave_group,
    sync_group,
    describe_groups,
    list_groups,
    sasl_handshake,
    api_versions,
    create_topics,
    delete_topics,
    delete_records,
    init_producer_id,
    offset_for_leader_epoch,
    add_partitions_to_txn,
    add_offsets_to_txn,
    end_txn,
    write_txn_markers,
    txn_offset_commit,
    describe_configs,
    alter_configs,
    describe_log_dirs,
    sasl_authenticate,
    create_partitions,
    delete_groups,
    incremental_alter_configs,
    offset_delete,
    describe_cluster,
    describe_producers,
    describe_transactions,
    list_transactions,
    describe_acls,
    create_acls,
    delete_acls,
    describe_user_scram_credentials,
    alter_user_scram_credentials,
)

#: Kafka API name <-> api key, both ways: API_KEYS["Produce"] == 0, API_NAMES[0] == "Produce"
API_KEYS = MappingProxyType({m.NAME: m.API_KEY for m in _MODULES})
API_NAMES = MappingProxyType({m.API_KEY: m.NAME for m in _MODULES})

#: api key -> (request declaration, response declaration)
MESSAGES: MappingProxyType[int, tuple[Message, Message]] = MappingProxyType(
    {m.API_KEY: (m.REQUEST, m.RESPONSE) for m in _MODULES}
)

#: api key -> inclusive (min, max) versions this codec decodes and encodes
SUPPORTED_VERSIONS = MappingProxyType(
    {
        0: (3, 10),  # Produce: 3 = magic 2 only; 9 first flexible
        1: (4, 13),  # Fetch: 12 first flexible, 13 topic ids
        2: (1, 8),  # ListOffsets: 6 first flexible, 7 MAX_TIMESTAMP, 8 EARLIEST_LOCAL
        3: (0, 10),  # Metadata: 9 first flexible
        # 4-7: the inter-broker APIs a ZooKeeper-mode controller sends (LeaderAndIsr v4, StopReplica
        # v3, UpdateMetadata v6) and a stopping broker sends it (ControlledShutdown v3)
        4: (0, 5),  # LeaderAndIsr: 4 first flexible, 5 topic ids (KIP-516)
        5: (0, 3),  # StopReplica: 2 first flexible, 3 per-partition leader epochs (KIP-570)
        6: (0, 7),  # UpdateMetadata: 6 first flexible, 7 topic ids
        7: (1, 3),  # ControlledShutdown: 3 first flexible; v0 has a request header without
        # client_id (request header v0), which no other API uses
        8: (2, 9),  # OffsetCommit: 8 first flexible
        9: (1, 7),  # OffsetFetch: 6 first flexible
        10: (0, 4),  # FindCoordinator: 3 first flexible
        11: (0, 7),  # JoinGroup: 6 first flexible
        12: (0, 4),  # Heartbeat: 4 first flexible
        13: (0, 5),  # LeaveGroup: 4 first flexible
        14: (0, 5),  # SyncGroup: 4 first flexible
        15: (0, 5),  # DescribeGroups: 5 first flexible
        16: (0, 5),  # ListGroups: 3 first flexible, 4 states (KIP-518), 5 types (KIP-848)
        17: (0, 1),  # SaslHandshake: never flexible
        18: (0, 4),  # ApiVersions: 3 first flexible (body only for the response, see below)
        19: (0, 6),  # CreateTopics: 5 first flexible
        20: (0, 5),  # DeleteTopics: 4 first flexible
        21: (0, 2),  # DeleteRecords: 2 first flexible
        22: (0, 4),  # InitProducerId: 2 first flexible, 3 producer id and epoch (KIP-360)
        23: (0, 4),  # OffsetForLeaderEpoch: 4 first flexible
        24: (0, 3),  # AddPartitionsToTxn: 3 first flexible (4+: the broker-to-broker batch form)
        25: (0, 3),  # AddOffsetsToTxn: 3 first flexible
        26: (0, 3),  # EndTxn: 3 first flexible
        27: (0, 1),  # WriteTxnMarkers: 1 first flexible
        28: (0, 3),  # TxnOffsetCommit: 3 first flexible
        29: (0, 3),  # DescribeAcls: 2 first flexible
        30: (0, 3),  # CreateAcls: 2 first flexible
        31: (0, 3),  # DeleteAcls: 2 first flexible
        32: (0, 4),  # DescribeConfigs: 4 first flexible
        33: (0, 2),  # AlterConfigs: 2 first flexible
        35: (0, 4),  # DescribeLogDirs: 2 first flexible
        36: (0, 2),  # SaslAuthenticate: 2 first flexible
        37: (0, 3),  # CreatePartitions: 2 first flexible
        42: (0, 2),  # DeleteGroups: 2 first flexible
        44: (0, 1),  # IncrementalAlterConfigs: 1 first flexible
        47: (0, 0),  # OffsetDelete: never flexible
        50: (0, 0),  # DescribeUserScramCredentials: flexible from 0
        51: (0, 0),  # AlterUserScramCredentials: flexible from 0
        60: (0, 1),  # DescribeCluster: flexible from 0
        61: (0, 0),  # DescribeProducers: flexible from 0
        65: (0, 0),  # DescribeTransactions: flexible from 0 (KIP-664)
        66: (0, 1),  # ListTransactions: flexible from 0, 1 duration filter
    }
)

API_VERSIONS_KEY = 18


def is_flexible(api_key: int, api_version: int) -> bool:
    """True when (api_key, api_version) uses compact encodings and tagged fields."""
    pair = MESSAGES.get(api_key)
    return pair is not None and pair[0].is_flexible(api_version)


def request_header_version(api_key: int, api_version: int) -> int:
    return 2 if is_flexible(api_key, api_version) else 1


def response_header_version(api_key: int, api_version: int) -> int:
    # ApiVersions answers with header v0 at every version (KIP-511): a client that does not
    # yet know the broker's versions must be able to read the header of the answer.
    if api_key == API_VERSIONS_KEY:
        return 0
    return 1 if is_flexible(api_key, api_version) else 0
