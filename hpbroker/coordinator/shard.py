"""GroupCoordinatorShard: the groups and committed offsets of ONE __consumer_offsets partition.

Theory of operation (Kafka's GroupCoordinatorShard + the classic GroupCoordinator)
---------------------------------------------------------------------------------
Each request operation returns ``(records, result)``: the __consumer_offsets records to append
and the response (a dict, or a future for a parked JoinGroup/SyncGroup). The runtime
(coordinator.py) appends the records to this shard's partition and then hands each of them to
``replay`` -- the same function that rebuilds the shard from the log on start-up. So committed
offsets and persisted group metadata change in exactly one place, whether they come from a live
request or from the log.

The shard is two managers, as in Kafka, and what joins them:
- ``GroupMetadataManager`` (group_manager.py): the groups, the rebalance protocol (JoinGroup,
  SyncGroup, Heartbeat, LeaveGroup), session timers; it replays GroupMetadata records.
- ``OffsetMetadataManager`` (offset_manager.py): committed offsets (OffsetCommit, OffsetFetch),
  their retention and deletion; it replays OffsetCommit records, and asks the group manager
  whether a committer is a member of the current generation.
- here: ``replay`` sends each record to its manager by key type; operations that touch both
  (deleting a group, expiring or deleting the last offsets of an Empty group, which deletes the
  group too, as Kafka's cleanupGroupMetadata) are composed here.

The latest record of every key (the group's metadata, each committed offset) is what a
compacted log would keep: ``snapshot_records`` returns exactly those, and replaying them into an
empty shard rebuilds the same groups and offsets (coordinator.py writes them and drops the log
before them).

A write the disk refuses (OSError from the append) changes no persisted state: nothing is
replayed (the group manager's theory says how a refused group write is answered).

Who may touch: the event loop of the process that owns the __consumer_offsets partition.
"""

from __future__ import annotations

import asyncio

from hpbroker.coordinator.config import CoordinatorConfig
from hpbroker.coordinator.group import Group
from hpbroker.coordinator.group_manager import GroupMetadataManager
from hpbroker.coordinator.offset_manager import OffsetMetadataManager
from hpbroker.coordinator.records import GroupMetadataKey, OffsetCommitKey, OffsetCommitValue

__all__ = ["CoordinatorConfig", "GroupCoordinatorShard"]


class GroupCoordinatorShard:
    def __init__(self, partition_index: int, config: CoordinatorConfig, write=None, call_later=None):
        self.partition_index = partition_index
        # write(records): append to our partition, then replay (set by the runtime); raises
        # OSError, with nothing replayed, when the append fails
        self._write = write or (lambda records: [self.replay(k, v) for k, v in records])
        self.group_manager = GroupMetadataManager(
            partition_index,
            config,
            write=lambda records: self._write(records),
            call_later=call_later or (lambda delay, cb: asyncio.get_running_loop().call_later(delay, cb)),
        )
        self.offset_manager = OffsetMetadataManager(config, self.group_manager)
        #: producer id -> the offsets its open transaction committed (TxnOffsetCommit), replayed
        #: when its COMMIT marker reaches this partition, dropped at ABORT
        self.pending_txn: dict[int, list] = {}

    @property
    def config(self) -> CoordinatorConfig:
        return self.group_manager.config

    @config.setter
    def config(self, config: CoordinatorConfig) -> None:
        self.group_manager.config = self.offset_manager.config = config

    @property
    def groups(self) -> dict[str, Group]:
        return self.group_manager.groups

    @property
    def offsets(self) -> dict[str, dict[tuple[str, int], OffsetCommitValue]]:
        return self.offset_manager.offsets

    # -- replay: the ONE place persisted state changes ------------------------------------------
    def replay(self, key, value) -> None:
        if isinstance(key, OffsetCommitKey):
            self.offset_manager.replay(key, value)
        elif isinstance(key, GroupMetadataKey):
            self.group_manager.replay(key, value)
        else:
            raise TypeError(f"not a __consumer_offsets key: {key!r}")

    def live_records(self) -> int:
        """How many records ``snapshot_records`` would return."""
        return self.group_manager.live_records() + self.offset_manager.live_records()

    def snapshot_records(self) -> list:
        """The latest record of every live key, [(key, value)]: what compaction of this shard's
        partition keeps (no tombstones: what they deleted is simply absent)."""
        return self.group_manager.snapshot_records() + self.offset_manager.snapshot_records()

    def write_or_warn(self, records) -> bool:
        """Write records whose loss Kafka tolerates (group_manager.py); True if written."""
        return self.group_manager.write_or_warn(records)

    # -- the group protocol (group_manager.py) ---------------------------------------------------
    def join_group(self, request: dict, version: int, client_id: str, client_host: str):
        return self.group_manager.join_group(request, version, client_id, client_host)

    def sync_group(self, request: dict):
        return self.group_manager.sync_group(request)

    def heartbeat(self, request: dict) -> tuple[list, dict]:
        return self.group_manager.heartbeat(request)

    def leave_group(self, group_id: str, leaving: list[tuple[str, str | None]]) -> tuple[list, int, list[int]]:
        return self.group_manager.leave_group(group_id, leaving)

    def list_groups(self) -> list[Group]:
        return self.group_manager.list_groups()

    # -- offsets (offset_manager.py) -------------------------------------------------------------
    def commit_offsets(self, request: dict, partition_exists, txn: bool = False) -> tuple[list, dict]:
        return self.offset_manager.commit_offsets(request, partition_exists, txn)

    def fetch_offsets(self, group_id: str, topics) -> dict[tuple[str, int], OffsetCommitValue | None]:
        return self.offset_manager.fetch_offsets(group_id, topics)

    # -- both --------------------------------------------------------------------------------------
    def expire_offsets(self, now: int | None = None) -> list:
        """Tombstones for what offsets.retention.minutes has expired, group by group
        (offset_manager.py); a group left Empty without offsets is deleted as well (Kafka's
        cleanupGroupMetadata)."""
        records = []
        for group_id, group in list(self.groups.items()):
            expired, none_left = self.offset_manager.expired_offsets(group, now)
            records += expired
            if none_left:
                records += self.group_manager.deletion_record(group_id)
        return records

    def delete_offsets(self, group_id: str, partitions: list[tuple[str, int]]) -> tuple[list, int, dict]:
        """OffsetDelete: ``(records, group error, {(topic, partition): error})``
        (offset_manager.py). An Empty group left without offsets is deleted, as expiry does."""
        records, error, errors, none_left = self.offset_manager.delete_offsets(group_id, partitions)
        if none_left:
            records += self.group_manager.deletion_record(group_id)
        return records, error, errors

    def delete_group(self, group_id: str) -> tuple[list, int]:
        """DeleteGroups: an Empty group's offsets, then its metadata, as tombstones."""
        error = self.group_manager.validate_delete_group(group_id)
        if error:
            return [], error
        return self.offset_manager.delete_all_offsets(group_id) + [(GroupMetadataKey(group_id), None)], 0
