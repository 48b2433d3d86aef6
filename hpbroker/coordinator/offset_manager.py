"""OffsetMetadataManager: the committed offsets of one __consumer_offsets partition (Kafka's
OffsetMetadataManager; the groups and their rebalances are GroupMetadataManager's).

Theory of operation
-------------------
OffsetCommit returns ``(records, per-partition errors)``: one OffsetCommitValue per accepted
partition, after the group manager accepted the committer (a simple commit, or a member of the
current generation). The offsets change only in ``replay``, after the runtime appended the
records; a tombstone deletes an offset. Offsets replayed for a group without metadata make an
Empty group (a simple consumer's).

Offsets are removed by tombstones computed here: retention (offsets.retention.minutes, KIP-211;
OffsetCommit v2-v4's own retention; KIP-496 for a Stable group's unsubscribed topics), the
OffsetDelete API, and a group's deletion. Whether an Empty group goes with its last offsets is
the shard's to decide (shard.py), as in Kafka's GroupCoordinatorShard.

Who may touch: the event loop of the process that owns the __consumer_offsets partition,
through its GroupCoordinatorShard. It reads groups; only the group manager changes them.
"""

from __future__ import annotations

import time

from hpbroker.coordinator.config import CoordinatorConfig
from hpbroker.coordinator.group import Group
from hpbroker.coordinator.group_manager import GroupMetadataManager
from hpbroker.coordinator.records import OffsetCommitKey, OffsetCommitValue
from hpbroker.coordinator.state import GroupState
from hpbroker.protocol.errors import ErrorCode

E, S, D = GroupState.EMPTY, GroupState.STABLE, GroupState.DEAD

_INT64_MAX = 2**63 - 1


def _now_ms() -> int:
    return int(time.time() * 1000)


class OffsetMetadataManager:
    def __init__(self, config: CoordinatorConfig, group_manager: GroupMetadataManager):
        self.config = config
        self.group_manager = group_manager
        self.offsets: dict[str, dict[tuple[str, int], OffsetCommitValue]] = {}

    # -- replay: the one place committed offsets change -----------------------------------------
    def replay(self, key: OffsetCommitKey, value: OffsetCommitValue | None) -> None:
        offsets = self.offsets.get(key.group)
        if value is None:
            if offsets is not None:
                offsets.pop((key.topic, key.partition), None)
                if not offsets:
                    del self.offsets[key.group]
            return
        if offsets is None:
            offsets = self.offsets[key.group] = {}
        offsets[(key.topic, key.partition)] = value
        self.group_manager.get_or_create(key.group)  # offsets alone make an Empty (simple) group

    def live_records(self) -> int:
        return sum(len(o) for o in self.offsets.values())

    def snapshot_records(self) -> list:
        """The latest record of every committed offset, [(key, value)]."""
        return [
            (OffsetCommitKey(g, t, p), v) for g, committed in self.offsets.items() for (t, p), v in committed.items()
        ]

    # -- OffsetCommit / OffsetFetch ----------------------------------------------------------------
    def commit_offsets(self, request: dict, partition_exists, txn: bool = False) -> tuple[list, dict]:
        """``txn``: a TxnOffsetCommit, whose member and generation are checked only when it
        names them (v3+; older ones commit for the group as a whole, as Kafka's)."""
        group_id = request["group_id"]
        generation = request.get("generation_id_or_member_epoch", -1)
        member_id = request.get("member_id") or ""
        topics = request["topics"]

        def all_partitions(code):
            return {(t["name"], p["partition_index"]): code for t in topics for p in t["partitions"]}

        if txn and generation < 0 and not member_id:
            error = ErrorCode.INVALID_GROUP_ID if not group_id else 0
        else:
            error = (
                ErrorCode.INVALID_GROUP_ID
                if not group_id
                else self.group_manager.validate_offset_commit(
                    group_id, member_id, generation, request.get("group_instance_id")
                )
            )
        if error:
            return [], all_partitions(error)
        self.group_manager.get_or_create(group_id)
        now = _now_ms()
        # OffsetCommit v2-v4 may name its own retention (-1: the broker's); Kafka keeps it as the
        # offsets' expire timestamp, which then wins over offsets.retention.minutes
        retention = request.get("retention_time_ms", -1)
        # a retention near Long.MAX_VALUE means "keep": the sum would not fit the record's int64
        # (Kafka's sum wraps to a past timestamp and expires the offsets at once)
        expire = min(now + retention, _INT64_MAX) if retention is not None and retention >= 0 else -1
        records, results = [], {}
        for t in topics:
            for p in t["partitions"]:
                tp = (t["name"], p["partition_index"])
                metadata = p.get("committed_metadata")
                if not partition_exists(*tp):
                    results[tp] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                elif metadata is not None and len(metadata.encode()) > self.config.offset_metadata_max_bytes:
                    results[tp] = ErrorCode.OFFSET_METADATA_TOO_LARGE
                else:
                    results[tp] = 0
                    records.append(
                        (
                            OffsetCommitKey(group_id, tp[0], tp[1]),
                            OffsetCommitValue(
                                p["committed_offset"],
                                -1 if expire >= 0 else p.get("committed_leader_epoch", -1),
                                metadata or "",
                                now,
                                expire,
                            ),
                        )
                    )
        return records, results

    def fetch_offsets(self, group_id: str, topics) -> dict[tuple[str, int], OffsetCommitValue | None]:
        """Committed offsets of ``topics`` [(name, [partitions])], or of everything if None."""
        committed = self.offsets.get(group_id, {})
        if topics is None:
            return dict(committed)
        return {(name, p): committed.get((name, p)) for name, parts in topics for p in parts}

    # -- removal -----------------------------------------------------------------------------------
    def expired_offsets(self, group: Group, now: int | None = None) -> tuple[list, bool]:
        """Tombstones for the offsets of ``group`` that offsets.retention.minutes has expired
        (Kafka's GroupMetadata.removeExpiredOffsets, KIP-211), and whether none is left: every
        offset of a group that uses the group protocol once it has been Empty for the retention
        (from its state timestamp); an offset of a simple consumer (commits only, no protocol)
        the retention after it was committed; an offset committed with an explicit retention
        (OffsetCommit v2-v4) at its expire timestamp. A Stable consumer group's offsets of
        topics none of its members subscribes to any more expire the retention after their
        commit (KIP-496)."""
        now = _now_ms() if now is None else now
        retention = self.config.offsets_retention_ms
        committed = self.offsets.get(group.group_id, {})
        subscribed: set[str] = set()  # topics whose offsets stay while the group lives
        if not group.protocol_type:
            since = -1  # each offset from its own commit
        elif group.is_(E):
            since = group.state_timestamp
        elif group.protocol_type == "consumer" and group.is_(S) and committed:
            topics = group.subscribed_topics()
            since, subscribed = (None, set()) if topics is None else (-1, topics)
        else:
            since = None
        expired = []
        if since is not None:
            for tp, v in committed.items():
                if tp[0] in subscribed:
                    continue
                if v.expire_timestamp >= 0:
                    gone = now >= v.expire_timestamp
                else:
                    gone = now - (v.commit_timestamp if since < 0 else since) >= retention
                if gone:
                    expired.append(tp)
        return [(OffsetCommitKey(group.group_id, t, p), None) for t, p in expired], len(expired) == len(committed)

    def delete_offsets(self, group_id: str, partitions: list[tuple[str, int]]) -> tuple[list, int, dict, bool]:
        """OffsetDelete (Kafka's GroupCoordinator.handleDeleteOffsets): ``(tombstones, group
        error, {(topic, partition): error}, whether the group's last offsets are among them)``.
        An Empty group loses the offsets of every partition named; a consumer group with
        members keeps those of topics a member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC) and
        loses the others; any other group with members answers NON_EMPTY_GROUP. Naming a
        partition without a committed offset is not an error."""
        if not group_id:
            return [], ErrorCode.INVALID_GROUP_ID, {}, False
        group = self.group_manager.groups.get(group_id)
        if group is None or group.is_(D):
            return [], ErrorCode.GROUP_ID_NOT_FOUND, {}, False
        errors: dict[tuple[str, int], int] = {}
        if group.is_(E):
            eligible = list(partitions)
        elif group.protocol_type == "consumer":
            subscribed = group.subscribed_topics() or set()
            eligible = []
            for tp in partitions:
                if tp[0] in subscribed:
                    errors[tp] = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC
                else:
                    eligible.append(tp)
        else:
            return [], ErrorCode.NON_EMPTY_GROUP, {}, False
        committed = self.offsets.get(group_id, {})
        gone = list(dict.fromkeys(tp for tp in eligible if tp in committed))
        records = [(OffsetCommitKey(group_id, t, p), None) for t, p in gone]
        errors.update((tp, 0) for tp in eligible)
        return records, 0, errors, bool(committed) and len(gone) == len(committed)

    def delete_all_offsets(self, group_id: str) -> list:
        """Tombstones for every offset of the group (DeleteGroups)."""
        return [(OffsetCommitKey(group_id, t, p), None) for (t, p) in self.offsets.get(group_id, {})]
