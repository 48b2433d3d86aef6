"""KafkaZkClient: Kafka's reads and writes of its ZooKeeper layout (zk_data.py), with Kafka's
fencing rules (Kafka 2.8's KafkaZkClient.scala is the model, method by method).

Theory of operation
-------------------
A broker registers an *ephemeral* znode under /brokers/ids; its creation zxid (czxid) is the
**broker epoch** (KIP-380): a broker that lost its session and registered again has a larger one,
which is how the controller tells a bounce from a broker that stayed up. The znode vanishes with
the session, which is how the cluster learns that a broker died.

The **controller** is whoever creates the ephemeral /controller. The election is one multi:
create /controller and set /controller_epoch to epoch+1 *at the version just read*; a rival that
won in between makes it fail with NODEEXISTS or BADVERSION, and the loser backs off. The winner
keeps the new version of /controller_epoch (``epoch_zk_version``) and passes it to every later
write, which becomes a multi of ``check(/controller_epoch, epoch_zk_version)`` and the write:
after another broker wins an election, a stale controller's writes fail with
``ControllerMovedError`` instead of landing.

A **partition state** znode is written only as a compare-and-set on its version (the partition
epoch, ``LeaderAndIsr.zk_version``): by the controller (fenced as above) when it elects a leader,
and by the leader itself when it shrinks or expands the ISR. A BADVERSION means someone else
wrote first: the writer re-reads and decides again (Kafka's updateLeaderAndIsr and
ReplicationUtils.updateLeaderAndIsr).

Reads that return many znodes pass a malformed one (``ZkDataError``) to ``on_malformed`` (logged
by default) and return the rest; reads of one znode raise it. Threads and session states: see
zk_session.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, RolledBackError

from hpbroker.cluster import zk_data as zd
from hpbroker.cluster.zk_data import (
    BrokerInfo,
    LeaderAndIsr,
    LeaderIsrAndControllerEpoch,
    ProducerIdBlock,
    ReplicaAssignment,
    TopicAssignment,
    TopicPartition,
    ZkDataError,
)
from hpbroker.cluster.zk_session import (
    MATCH_ANY_VERSION,
    UNKNOWN_VERSION,
    ControllerMovedError,
    ZkSession,
)

log = logging.getLogger(__name__)


class BrokerIdInUseError(Exception):
    """Another live session holds /brokers/ids/<id>."""


class TopicExistsError(Exception):
    pass


@dataclass
class UpdateLeaderAndIsrResult:
    """Per partition: the new state (with its new zk_version) or the error; ``to_retry`` are the
    partitions whose CAS failed with BADVERSION: re-read them and decide again."""

    finished: dict[TopicPartition, LeaderAndIsr | Exception] = field(default_factory=dict)
    to_retry: list[TopicPartition] = field(default_factory=list)


def _report(exc: ZkDataError) -> None:
    log.error("malformed znode %s", exc)


class KafkaZkClient(ZkSession):
    def start(self) -> KafkaZkClient:
        """Connect (creating the chroot) and make sure the persistent top-level paths exist."""
        super().start()
        self.create_top_level_paths()
        return self

    def create_top_level_paths(self) -> None:
        for path in zd.PERSISTENT_PATHS:
            self.make_sure_persistent_path_exists(path)

    def _get_many(self, paths: list[str]) -> list[tuple[bytes | None, object]]:
        """(data, stat) of each path ((None, None) if missing), requests pipelined."""
        out = []
        for answer in self._requests([lambda p=p: self._kazoo.get_async(p) for p in paths]):
            if isinstance(answer, NoNodeError):
                out.append((None, None))
            elif isinstance(answer, Exception):
                raise answer
            else:
                out.append(answer)
        return out

    # -- brokers ----------------------------------------------------------------------------
    def register_broker(self, info: BrokerInfo) -> int:
        """Create the ephemeral /brokers/ids/<id>; returns the broker epoch (its czxid). The
        create and the data are one multi, so the znode is never seen empty."""
        path = zd.broker_path(info.broker_id)
        data = zd.encode_broker_info(info)
        while True:
            results = self._multi([("create", path, b"", None, True), ("set_data", path, data, 0)])
            if not isinstance(results[0], Exception):
                stat = results[1]
                log.info("registered broker %d at %s, broker epoch (czxid) %d", info.broker_id, path, stat.czxid)
                return stat.czxid
            if not isinstance(results[0], NodeExistsError):
                raise results[0]
            _, stat = self.get_data_and_stat(path)
            if stat is None:
                continue  # it went away while we looked: try again
            owner = stat.ephemeralOwner
            if owner == self.session_id:
                return stat.czxid  # ours already (a retried create that had succeeded)
            if owner in self._own_sessions:
                # ours from an expired session that ZooKeeper has not removed yet (ZOOKEEPER-2985,
                # KAFKA-7165): delete it and register again
                self.delete_path(path)
                continue
            raise BrokerIdInUseError(
                f"broker.id {info.broker_id} is already registered by another live session "
                f"(0x{owner:x}) at {self.connect}{path}"
            )

    def get_sorted_broker_list(self) -> list[int]:
        ids = []
        for name in self.get_children(zd.BROKER_IDS_PATH):
            if name.isdigit():
                ids.append(int(name))
            else:
                _report(ZkDataError(f"{zd.BROKER_IDS_PATH}/{name}", "not a broker id"))
        return sorted(ids)

    def get_broker(self, broker_id: int) -> BrokerInfo | None:
        """None if not registered; ZkDataError if malformed."""
        data, stat = self.get_data_and_stat(zd.broker_path(broker_id))
        return None if stat is None else zd.decode_broker_info(broker_id, data)

    def get_all_brokers_and_epochs(
        self, on_malformed: Callable[[ZkDataError], None] = _report
    ) -> dict[int, tuple[BrokerInfo, int]]:
        """broker id -> (registration, broker epoch) of every live broker."""
        ids = self.get_sorted_broker_list()
        out = {}
        for broker_id, (data, stat) in zip(ids, self._get_many([zd.broker_path(i) for i in ids])):
            if stat is None:
                continue
            try:
                out[broker_id] = (zd.decode_broker_info(broker_id, data), stat.czxid)
            except ZkDataError as exc:
                on_malformed(exc)
        return out

    # -- controller -------------------------------------------------------------------------
    def get_controller_id(self) -> int | None:
        data, stat = self.get_data_and_stat(zd.CONTROLLER_PATH)
        return None if stat is None else zd.decode_controller(data)

    def get_controller_epoch(self) -> tuple[int, int] | None:
        """(controller epoch, its znode's version) or None before the first election."""
        data, stat = self.get_data_and_stat(zd.CONTROLLER_EPOCH_PATH)
        return None if stat is None else (zd.decode_controller_epoch(data), stat.version)

    def register_controller_and_increment_controller_epoch(self, broker_id: int) -> tuple[int, int]:
        """Try to become the controller: (new controller epoch, its zkVersion, which fences
        every later controller write), or ControllerMovedError if another broker is or became
        the controller."""
        current = self.get_controller_epoch()
        if current is None:
            try:
                self._call(
                    lambda: self._kazoo.create_async(
                        zd.CONTROLLER_EPOCH_PATH, zd.encode_controller_epoch(zd.INITIAL_CONTROLLER_EPOCH)
                    )
                )
                current = (zd.INITIAL_CONTROLLER_EPOCH, zd.INITIAL_ZK_VERSION)
            except NodeExistsError:
                current = self.get_controller_epoch()
                if current is None:
                    raise ControllerMovedError(f"{zd.CONTROLLER_EPOCH_PATH} went away during the election") from None
        epoch, version = current
        new_epoch = epoch + 1
        results = self._multi(
            [
                ("create", zd.CONTROLLER_PATH, zd.encode_controller(broker_id), None, True),
                ("set_data", zd.CONTROLLER_EPOCH_PATH, zd.encode_controller_epoch(new_epoch), version),
            ]
        )
        if not isinstance(results[0], Exception):
            log.info("broker %d is the controller, controller epoch %d", broker_id, new_epoch)
            return new_epoch, results[1].version
        if not any(isinstance(r, (NodeExistsError, BadVersionError)) for r in results):
            raise next(r for r in results if not isinstance(r, RolledBackError))
        # NODEEXISTS or BADVERSION: lost, unless a multi retried after a lost connection had in
        # fact succeeded for us (Kafka's checkControllerAndEpoch)
        if self.get_controller_id() == broker_id:
            now = self.get_controller_epoch()
            if now is not None and now[0] == new_epoch:
                return now
        raise ControllerMovedError(f"broker {broker_id} lost the controller election for epoch {new_epoch}")

    def delete_controller(self, expected_controller_epoch_zk_version: int) -> None:
        """Resign: delete /controller, fenced (a controller already replaced deletes nothing)."""
        self.delete_path(zd.CONTROLLER_PATH, expected_controller_epoch_zk_version)

    # -- topic assignments ------------------------------------------------------------------
    def create_topic_assignment(
        self, topic: str, topic_id: bytes | None, assignment: Mapping[int, ReplicaAssignment | Iterable[int]]
    ) -> None:
        """Write /brokers/topics/<topic> (what CreateTopics does; the controller, watching
        /brokers/topics, then creates the partition states). TopicExistsError if it exists."""
        try:
            self.create_recursive(zd.topic_path(topic), zd.encode_topic_assignment(topic_id, _assignment(assignment)))
        except NodeExistsError:
            raise TopicExistsError(f"topic {topic!r} already exists") from None

    def set_topic_assignment(
        self,
        topic: str,
        topic_id: bytes | None,
        assignment: Mapping[int, ReplicaAssignment | Iterable[int]],
        expected_version: int = MATCH_ANY_VERSION,
        expected_controller_epoch_zk_version: int = MATCH_ANY_VERSION,
    ) -> int:
        """Replace the assignment (new partitions, a topic id, a reassignment) as a CAS on its
        version; returns the new version. BadVersionError if it changed, NoNodeError if gone."""
        fence = expected_controller_epoch_zk_version
        data = zd.encode_topic_assignment(topic_id, _assignment(assignment))
        result = self._unfence(
            fence, self._multi(self._fence(fence, [("set_data", zd.topic_path(topic), data, expected_version)]))
        )[0]
        if isinstance(result, Exception):
            raise result
        return result.version

    def get_all_topics(self) -> list[str]:
        return sorted(self.get_children(zd.TOPICS_PATH))

    def get_topic_assignment(self, topic: str) -> tuple[TopicAssignment, int] | None:
        """(assignment, znode version), None if no such topic; ZkDataError if malformed."""
        data, stat = self.get_data_and_stat(zd.topic_path(topic))
        return None if stat is None else (zd.decode_topic_assignment(topic, data), stat.version)

    def get_topic_assignments(
        self, topics: Iterable[str], on_malformed: Callable[[ZkDataError], None] = _report
    ) -> dict[str, TopicAssignment]:
        topics = list(topics)
        out = {}
        for topic, (data, stat) in zip(topics, self._get_many([zd.topic_path(t) for t in topics])):
            if stat is None:
                continue
            try:
                out[topic] = zd.decode_topic_assignment(topic, data)
            except ZkDataError as exc:
                on_malformed(exc)
        return out

    # -- partition states -------------------------------------------------------------------
    def create_partition_states(
        self, states: Mapping[TopicPartition, LeaderIsrAndControllerEpoch], expected_controller_epoch_zk_version: int
    ) -> dict[TopicPartition, LeaderAndIsr | Exception]:
        """The controller's first state of new partitions (creating .../partitions/<p> as
        needed): per partition the state with zk_version 0, or the error (NodeExistsError if a
        state exists, NoNodeError if the topic does not). ControllerMovedError if the fence
        fails."""
        fence = expected_controller_epoch_zk_version
        parents = sorted(
            {zd.topic_partitions_path(tp.topic) for tp in states} | {zd.partition_path(tp) for tp in states},
            key=lambda p: p.count("/"),
        )
        for answer in self._multi_many([self._fence(fence, [("create", path, b"")]) for path in parents]):
            self._unfence(fence, answer)  # an existing parent is fine; a missing topic shows below
        tps = list(states)
        answers = self._multi_many(
            [
                self._fence(fence, [("create", zd.partition_state_path(tp), zd.encode_partition_state(states[tp]))])
                for tp in tps
            ]
        )
        out: dict[TopicPartition, LeaderAndIsr | Exception] = {}
        for tp, results in zip(tps, answers):
            result = self._unfence(fence, results)[0]
            out[tp] = (
                result
                if isinstance(result, Exception)
                else states[tp].leader_and_isr.with_zk_version(zd.INITIAL_ZK_VERSION)
            )
        return out

    def get_partition_state(self, tp: TopicPartition) -> LeaderIsrAndControllerEpoch | None:
        """The state (zk_version = the znode's version), None if absent; ZkDataError if malformed."""
        data, stat = self.get_data_and_stat(zd.partition_state_path(tp))
        return None if stat is None else zd.decode_partition_state(tp, data, stat.version)

    def get_partition_states(
        self, tps: Iterable[TopicPartition], on_malformed: Callable[[ZkDataError], None] = _report
    ) -> dict[TopicPartition, LeaderIsrAndControllerEpoch]:
        tps = list(tps)
        out = {}
        for tp, (data, stat) in zip(tps, self._get_many([zd.partition_state_path(tp) for tp in tps])):
            if stat is None:
                continue
            try:
                out[tp] = zd.decode_partition_state(tp, data, stat.version)
            except ZkDataError as exc:
                on_malformed(exc)
        return out

    def update_leader_and_isr(
        self,
        leader_and_isrs: Mapping[TopicPartition, LeaderAndIsr],
        controller_epoch: int,
        expected_controller_epoch_zk_version: int,
    ) -> UpdateLeaderAndIsrResult:
        """The controller's CAS of partition states, each at its ``zk_version`` and fenced by the
        controller epoch. ControllerMovedError if the fence fails."""
        fence = expected_controller_epoch_zk_version
        tps = list(leader_and_isrs)
        answers = self._multi_many(
            [
                self._fence(
                    fence,
                    [
                        (
                            "set_data",
                            zd.partition_state_path(tp),
                            zd.encode_partition_state(
                                LeaderIsrAndControllerEpoch(leader_and_isrs[tp], controller_epoch)
                            ),
                            leader_and_isrs[tp].zk_version,
                        )
                    ],
                )
                for tp in tps
            ]
        )
        result = UpdateLeaderAndIsrResult()
        for tp, results in zip(tps, answers):
            r = self._unfence(fence, results)[0]
            if isinstance(r, BadVersionError):
                result.to_retry.append(tp)
            elif isinstance(r, Exception):
                result.finished[tp] = r
            else:
                result.finished[tp] = leader_and_isrs[tp].with_zk_version(r.version)
        return result

    def update_leader_and_isr_as_leader(
        self, tp: TopicPartition, new: LeaderAndIsr, controller_epoch: int
    ) -> tuple[bool, int]:
        """The leader's ISR change: a CAS at ``new.zk_version`` with the controller epoch it
        learned from LeaderAndIsr (not fenced by /controller_epoch: the version is the fence).
        (True, new zk_version), or (False, -1): re-read the state before deciding again."""
        state = LeaderIsrAndControllerEpoch(new, controller_epoch)
        data = zd.encode_partition_state(state)

        def already_written(current: bytes | None) -> bool:
            try:
                got = zd.decode_partition_state(tp, current, 0)
            except ZkDataError:
                return False
            return got == LeaderIsrAndControllerEpoch(new.with_zk_version(0), controller_epoch)

        return self.conditional_update_path(zd.partition_state_path(tp), data, new.zk_version, already_written)

    # -- configs ----------------------------------------------------------------------------
    def set_or_create_entity_configs(self, entity_type: str, name: str, config: Mapping[str, str]) -> None:
        """Replace /config/<type>/<name> (Kafka writes the whole override set each time)."""
        path = zd.config_entity_path(entity_type, name)
        data = zd.encode_entity_config(config)
        try:
            self._call(lambda: self._kazoo.set_async(path, data))
        except NoNodeError:
            try:
                self.create_recursive(path, data)
            except NodeExistsError:
                self._call(lambda: self._kazoo.set_async(path, data))

    def get_entity_configs(self, entity_type: str, name: str) -> dict[str, str]:
        """The overrides ({} if none); ZkDataError if malformed."""
        path = zd.config_entity_path(entity_type, name)
        data, _ = self.get_data_and_stat(path)
        return zd.decode_entity_config(path, data)

    def get_entities_configs(
        self, entity_type: str, names: Iterable[str], on_malformed: Callable[[ZkDataError], None] = _report
    ) -> dict[str, dict[str, str]]:
        """The overrides of each entity ({} if none or malformed), requests pipelined."""
        names = list(names)
        paths = [zd.config_entity_path(entity_type, n) for n in names]
        out: dict[str, dict[str, str]] = {}
        for name, path, (data, _) in zip(names, paths, self._get_many(paths)):
            try:
                out[name] = zd.decode_entity_config(path, data)
            except ZkDataError as exc:
                on_malformed(exc)
                out[name] = {}
        return out

    def get_all_entities_with_config(self, entity_type: str) -> list[str]:
        return sorted(self.get_children(f"{zd.CONFIG_PATH}/{entity_type}"))

    def create_config_change_notification(self, entity_path: str) -> str:
        """Announce that /config/<entity_path> changed ("topics/<topic>"); returns the path."""
        return self.create_sequential_persistent_path(
            f"{zd.CONFIG_CHANGES_PATH}/{zd.CONFIG_CHANGE_PREFIX}", zd.encode_config_change(entity_path)
        )

    def get_config_changes(
        self, after: str | None = None, on_malformed: Callable[[ZkDataError], None] = _report
    ) -> list[tuple[str, str]]:
        """(notification name, "<type>/<name>") of the notifications after ``after`` (a name),
        oldest first."""
        names = sorted(
            n
            for n in self.get_children(zd.CONFIG_CHANGES_PATH)
            if n.startswith(zd.CONFIG_CHANGE_PREFIX) and (after is None or n > after)
        )
        out = []
        for name, (data, stat) in zip(names, self._get_many([f"{zd.CONFIG_CHANGES_PATH}/{n}" for n in names])):
            if stat is None:
                continue
            try:
                out.append((name, zd.decode_config_change(f"{zd.CONFIG_CHANGES_PATH}/{name}", data)))
            except ZkDataError as exc:
                on_malformed(exc)
        return out

    def delete_config_changes(self, names: Iterable[str]) -> None:
        for name in names:
            self.delete_path(f"{zd.CONFIG_CHANGES_PATH}/{name}")

    # -- topic deletion ---------------------------------------------------------------------
    def create_delete_topic_path(self, topic: str) -> bool:
        """Mark ``topic`` for deletion; False if it already was."""
        try:
            self.create_recursive(zd.delete_topic_path(topic))
            return True
        except NodeExistsError:
            return False

    def get_topic_deletions(self) -> list[str]:
        return sorted(self.get_children(zd.DELETE_TOPICS_PATH))

    def is_topic_marked_for_deletion(self, topic: str) -> bool:
        return self.path_exists(zd.delete_topic_path(topic))

    def delete_topic_deletions(self, topics: Iterable[str], expected_controller_epoch_zk_version: int) -> None:
        for topic in topics:
            self.delete_path(zd.delete_topic_path(topic), expected_controller_epoch_zk_version)

    def delete_topic(self, topic: str, expected_controller_epoch_zk_version: int) -> None:
        """Remove /brokers/topics/<topic> and its partition states (the controller, when the
        replicas have deleted their logs)."""
        self.delete_path(zd.topic_path(topic), expected_controller_epoch_zk_version)

    def delete_topic_configs(self, topics: Iterable[str], expected_controller_epoch_zk_version: int) -> None:
        for topic in topics:
            self.delete_path(zd.config_entity_path(zd.TOPIC_CONFIG_TYPE, topic), expected_controller_epoch_zk_version)

    # -- cluster id -------------------------------------------------------------------------
    def get_cluster_id(self) -> str | None:
        data, stat = self.get_data_and_stat(zd.CLUSTER_ID_PATH)
        return None if stat is None else zd.decode_cluster_id(data)

    def create_or_get_cluster_id(self, proposed: str | None = None) -> str:
        """The cluster id, creating /cluster/id with ``proposed`` (or a new id) if absent."""
        existing = self.get_cluster_id()
        if existing is not None:
            return existing
        proposed = proposed or zd.generate_cluster_id()
        try:
            self.create_recursive(zd.CLUSTER_ID_PATH, zd.encode_cluster_id(proposed))
            return proposed
        except NodeExistsError:
            cluster_id = self.get_cluster_id()
            if cluster_id is None:
                raise ZkDataError(zd.CLUSTER_ID_PATH, "deleted while being read") from None
            return cluster_id

    # -- producer id blocks -----------------------------------------------------------------
    def claim_producer_id_block(self, broker_id: int) -> ProducerIdBlock:
        """The next block of 1000 producer ids, claimed by a CAS on /latest_producer_id_block
        (Kafka's ProducerIdManager): each block goes to exactly one claimant."""
        while True:
            data, version = self.get_data_and_version(zd.PRODUCER_ID_BLOCK_PATH)
            block = zd.next_producer_id_block(zd.decode_producer_id_block(data), broker_id)
            new_data = zd.encode_producer_id_block(block)
            if version == UNKNOWN_VERSION:
                try:
                    self.create_recursive(zd.PRODUCER_ID_BLOCK_PATH, new_data)
                    return block
                except NodeExistsError:
                    continue
            ok, _ = self.conditional_update_path(
                zd.PRODUCER_ID_BLOCK_PATH,
                new_data,
                version,
                check=lambda current, expected=new_data: current == expected,
            )
            if ok:
                log.info("broker %d claimed producer ids %d-%d", broker_id, block.block_start, block.block_end)
                return block

    # -- isr change notifications -----------------------------------------------------------
    def propagate_isr_changes(self, partitions: Iterable[TopicPartition]) -> str:
        """Tell the controller that a leader changed these partitions' ISR; returns the path."""
        return self.create_sequential_persistent_path(
            f"{zd.ISR_CHANGE_NOTIFICATION_PATH}/{zd.ISR_CHANGE_PREFIX}", zd.encode_isr_change(partitions)
        )

    def get_all_isr_change_notifications(self) -> list[str]:
        """The sequence numbers of the pending notifications, oldest first."""
        names = self.get_children(zd.ISR_CHANGE_NOTIFICATION_PATH)
        return sorted(zd.sequence_number(n, zd.ISR_CHANGE_PREFIX) for n in names if n.startswith(zd.ISR_CHANGE_PREFIX))

    def get_partitions_from_isr_change_notifications(
        self, sequence_numbers: Iterable[str], on_malformed: Callable[[ZkDataError], None] = _report
    ) -> list[TopicPartition]:
        paths = [f"{zd.ISR_CHANGE_NOTIFICATION_PATH}/{zd.ISR_CHANGE_PREFIX}{s}" for s in sequence_numbers]
        out: set[TopicPartition] = set()
        for path, (data, stat) in zip(paths, self._get_many(paths)):
            if stat is None:
                continue
            try:
                out |= zd.decode_isr_change(path, data)
            except ZkDataError as exc:
                on_malformed(exc)
        return sorted(out)

    def delete_isr_change_notifications(
        self, sequence_numbers: Iterable[str], expected_controller_epoch_zk_version: int
    ) -> None:
        for seq in sequence_numbers:
            self.delete_path(
                f"{zd.ISR_CHANGE_NOTIFICATION_PATH}/{zd.ISR_CHANGE_PREFIX}{seq}", expected_controller_epoch_zk_version
            )


def _assignment(assignment: Mapping[int, ReplicaAssignment | Iterable[int]]) -> dict[int, ReplicaAssignment]:
    return {p: a if isinstance(a, ReplicaAssignment) else ReplicaAssignment(tuple(a)) for p, a in assignment.items()}
