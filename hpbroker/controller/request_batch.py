"""The controller's requests to brokers, gathered while a state change is decided and sent at its
end (Kafka's ControllerBrokerRequestBatch), at the versions Kafka 2.8 sends (IBP 2.8):
LeaderAndIsr v5, UpdateMetadata v7, StopReplica v3.

- ``add_leader_and_isr(brokers, tp, ...)``: tell those brokers the partition's state (leader,
  leader epoch, ISR, zkVersion, replicas); also queues the partition for an UpdateMetadata to
  every live broker.
- ``add_stop_replica(brokers, tp, delete)``: with the partition's leader epoch, or -2 while its
  topic is being deleted; a delete asked once stays asked.
- ``add_update_metadata(brokers, tps)``: these brokers get an UpdateMetadata with the
  partitions' states (a partition whose topic is being deleted with leader -2, which makes
  brokers forget it) and the live brokers.

``send(epoch)`` sends LeaderAndIsr first, then UpdateMetadata, then StopReplica, as Kafka does:
a replica knows it leads before clients are told to go to it.

Who may touch: the controller, while it processes one event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from hpbroker.cluster.zk_data import SECURITY_PROTOCOLS, LeaderIsrAndControllerEpoch, ReplicaAssignment, TopicPartition
from hpbroker.controller.channel import ControllerChannelManager, broker_address
from hpbroker.controller.context import ControllerContext

log = logging.getLogger(__name__)

LEADER_AND_ISR, STOP_REPLICA, UPDATE_METADATA = 4, 5, 6
LEADER_AND_ISR_VERSION, STOP_REPLICA_VERSION, UPDATE_METADATA_VERSION = 5, 3, 7
LEADER_DURING_DELETE, EPOCH_DURING_DELETE, NO_EPOCH = -2, -2, -1
#: SecurityProtocol ids (UpdateMetadata endpoints)
PROTOCOL_IDS = {name: i for i, name in enumerate(SECURITY_PROTOCOLS)}


class RequestBatch:
    def __init__(self, controller_id: int, ctx: ControllerContext, channel: ControllerChannelManager):
        self.controller_id = controller_id
        self.ctx = ctx
        self.channel = channel
        self.leader_and_isr: dict[int, dict[TopicPartition, dict]] = {}
        self.stop_replica: dict[int, dict[TopicPartition, dict]] = {}
        self.update_metadata_brokers: set[int] = set()
        self.update_metadata_partitions: dict[TopicPartition, dict] = {}
        #: StopReplica answers: (broker id, request error, {tp: error}) for partitions being deleted
        self.on_stop_replica_deleted: Callable[[int, int, dict[TopicPartition, int]], None] | None = None

    def new_batch(self) -> None:
        if self.leader_and_isr or self.stop_replica or self.update_metadata_brokers:
            log.error("a batch of controller requests was not sent before a new one: dropping it")
            self.clear()

    def clear(self) -> None:
        self.leader_and_isr.clear()
        self.stop_replica.clear()
        self.update_metadata_brokers.clear()
        self.update_metadata_partitions.clear()

    # -- gathering ----------------------------------------------------------------------------
    def add_leader_and_isr(
        self,
        broker_ids: Iterable[int],
        tp: TopicPartition,
        lice: LeaderIsrAndControllerEpoch,
        assignment: ReplicaAssignment,
        is_new: bool,
    ) -> None:
        lai = lice.leader_and_isr
        for broker_id in broker_ids:
            if broker_id < 0:
                continue
            per_broker = self.leader_and_isr.setdefault(broker_id, {})
            already_new = per_broker.get(tp, {}).get("is_new", False)
            per_broker[tp] = {
                "partition_index": tp.partition,
                "controller_epoch": lice.controller_epoch,
                "leader": lai.leader,
                "leader_epoch": lai.leader_epoch,
                "isr": list(lai.isr),
                "partition_epoch": lai.zk_version,
                "replicas": list(assignment.replicas),
                "adding_replicas": list(assignment.adding_replicas),
                "removing_replicas": list(assignment.removing_replicas),
                "is_new": is_new or already_new,
            }
        self.add_update_metadata(self.ctx.live_or_shutting_down_ids, [tp])

    def add_stop_replica(self, broker_ids: Iterable[int], tp: TopicPartition, delete: bool) -> None:
        if self.ctx.is_queued_for_deletion(tp.topic):
            epoch = EPOCH_DURING_DELETE
        else:
            lice = self.ctx.leadership.get(tp)
            epoch = NO_EPOCH if lice is None else lice.leader_and_isr.leader_epoch
        for broker_id in broker_ids:
            if broker_id < 0:
                continue
            per_broker = self.stop_replica.setdefault(broker_id, {})
            already_delete = per_broker.get(tp, {}).get("delete_partition", False)
            per_broker[tp] = {
                "partition_index": tp.partition,
                "leader_epoch": epoch,
                "delete_partition": delete or already_delete,
            }

    def add_update_metadata(self, broker_ids: Iterable[int], tps: Iterable[TopicPartition]) -> None:
        self.update_metadata_brokers |= {b for b in broker_ids if b >= 0}
        ctx = self.ctx
        for tp in tps:
            lice = ctx.leadership.get(tp)
            if lice is None:
                continue  # no leader decided yet: nothing to say about it
            lai = lice.leader_and_isr
            replicas = ctx.replicas(tp)
            deleting = tp.topic in ctx.topics_to_be_deleted
            self.update_metadata_partitions[tp] = {
                "partition_index": tp.partition,
                "controller_epoch": lice.controller_epoch,
                "leader": LEADER_DURING_DELETE if deleting else lai.leader,
                "leader_epoch": lai.leader_epoch,
                "isr": list(lai.isr),
                "zk_version": lai.zk_version,
                "replicas": list(replicas),
                "offline_replicas": [r for r in replicas if not ctx.is_replica_online(r)],
            }

    # -- sending -------------------------------------------------------------------------------
    def send(self, controller_epoch: int) -> None:
        try:
            self._send_leader_and_isr(controller_epoch)
            self._send_update_metadata(controller_epoch)
            self._send_stop_replica(controller_epoch)
        finally:
            self.clear()

    def _topic_id(self, topic: str) -> bytes:
        return self.ctx.topic_ids.get(topic, bytes(16))

    def _send_leader_and_isr(self, controller_epoch: int) -> None:
        ctx = self.ctx
        for broker_id, states in self.leader_and_isr.items():
            if broker_id not in ctx.live_brokers:
                continue
            by_topic: dict[str, list[dict]] = {}
            leaders = set()
            for tp, state in states.items():
                by_topic.setdefault(tp.topic, []).append(state)
                leaders.add(state["leader"])
            live_leaders = []
            for leader in sorted(leaders):
                info = ctx.live_brokers.get(leader)
                if info is not None:
                    host, port = broker_address(info, self.channel.security)
                    live_leaders.append({"broker_id": leader, "host_name": host, "port": port})
            leading = sum(1 for s in states.values() if s["leader"] == broker_id)
            log.info(
                "sending LeaderAndIsr to broker %d: leader of %d, follower of %d partitions",
                broker_id,
                leading,
                len(states) - leading,
            )
            body = {
                "controller_id": self.controller_id,
                "controller_epoch": controller_epoch,
                "broker_epoch": ctx.broker_epochs.get(broker_id, -1),
                "type": 0,
                "topic_states": [
                    {"topic_name": t, "topic_id": self._topic_id(t), "partition_states": parts}
                    for t, parts in by_topic.items()
                ],
                "live_leaders": live_leaders,
            }
            self.channel.send(broker_id, LEADER_AND_ISR, LEADER_AND_ISR_VERSION, body)
        self.leader_and_isr.clear()

    def _live_brokers(self) -> list[dict]:
        out = []
        for broker_id in sorted(self.ctx.live_brokers):
            info = self.ctx.live_brokers[broker_id]
            out.append(
                {
                    "id": broker_id,
                    "endpoints": [
                        {
                            "port": e.port,
                            "host": e.host or "",
                            "listener": e.listener_name,
                            "security_protocol": PROTOCOL_IDS.get(e.security_protocol, 0),
                        }
                        for e in info.endpoints
                    ],
                    "rack": info.rack,
                }
            )
        return out

    def _send_update_metadata(self, controller_epoch: int) -> None:
        ctx = self.ctx
        targets = sorted(self.update_metadata_brokers & set(ctx.live_brokers))
        if targets:
            by_topic: dict[str, list[dict]] = {}
            for tp, state in self.update_metadata_partitions.items():
                by_topic.setdefault(tp.topic, []).append(state)
            topic_states = [
                {"topic_name": t, "topic_id": self._topic_id(t), "partition_states": parts}
                for t, parts in by_topic.items()
            ]
            live_brokers = self._live_brokers()
            log.info(
                "sending UpdateMetadata to brokers %s for %d partitions",
                targets,
                len(self.update_metadata_partitions),
            )
            for broker_id in targets:
                body = {
                    "controller_id": self.controller_id,
                    "controller_epoch": controller_epoch,
                    "broker_epoch": ctx.broker_epochs.get(broker_id, -1),
                    "topic_states": topic_states,
                    "live_brokers": live_brokers,
                }
                self.channel.send(broker_id, UPDATE_METADATA, UPDATE_METADATA_VERSION, body)
        self.update_metadata_brokers.clear()
        self.update_metadata_partitions.clear()

    def _send_stop_replica(self, controller_epoch: int) -> None:
        ctx = self.ctx
        for broker_id, states in self.stop_replica.items():
            if broker_id not in ctx.live_brokers:
                continue
            by_topic: dict[str, list[dict]] = {}
            for tp, state in states.items():
                by_topic.setdefault(tp.topic, []).append(state)
            deleted = {tp for tp, s in states.items() if s["delete_partition"]}
            log.info(
                "sending StopReplica to broker %d for %d partitions (%d to delete)",
                broker_id,
                len(states),
                len(deleted),
            )
            body = {
                "controller_id": self.controller_id,
                "controller_epoch": controller_epoch,
                "broker_epoch": ctx.broker_epochs.get(broker_id, -1),
                "topic_states": [{"topic_name": t, "partition_states": parts} for t, parts in by_topic.items()],
            }
            callback = self._stop_replica_callback(broker_id, deleted) if deleted else None
            self.channel.send(broker_id, STOP_REPLICA, STOP_REPLICA_VERSION, body, callback)
        self.stop_replica.clear()

    def _stop_replica_callback(self, broker_id: int, deleted: set[TopicPartition]):
        def answered(response: dict) -> None:
            errors = {}
            for pe in response.get("partition_errors", []):
                tp = TopicPartition(pe["topic_name"], pe["partition_index"])
                if tp in deleted and self.ctx.is_queued_for_deletion(tp.topic):
                    errors[tp] = pe["error_code"]
            # a request refused whole names no partitions: each one asked failed
            if response.get("error_code") and not errors:
                errors = {tp: response["error_code"] for tp in deleted if self.ctx.is_queued_for_deletion(tp.topic)}
            if errors and self.on_stop_replica_deleted is not None:
                self.on_stop_replica_deleted(broker_id, response.get("error_code", 0), errors)

        return answered
