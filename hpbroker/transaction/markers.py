"""Transaction markers: the coordinator's channel to the leaders of a transaction's partitions
(Kafka's TransactionMarkerChannelManager), and the leader's side (``apply_marker``, which the
WriteTxnMarkers API module calls too).

A partition this process leads gets its marker at once (``apply_marker``), answered once its ISR
has it. Any other goes in a
WriteTxnMarkers request to its leader: a broker of the cluster, or, in the multi-process
topology, this node itself, whose processors hand the request to the handler that owns the
partition; always on the inter-broker listener, with its TLS and SASL login. Requests to one
broker are sent one at a time over one connection (``BrokerClient``);
an unreachable leader answers its partitions COORDINATOR_NOT_AVAILABLE here and the coordinator
retries them.

A marker on a __consumer_offsets partition also tells the group coordinator there: the
transaction's offsets (TxnOffsetCommit) become committed offsets, or are dropped.

Who may touch: the event loop of the coordinator's process.
"""

from __future__ import annotations

import asyncio
import logging

from hpbroker.cluster.broker_client import BrokerClient, BrokerUnavailable, InterBrokerSecurity
from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC, _await_high_watermark
from hpbroker.protocol.errors import ErrorCode
from hpbroker.replication.partition import AppendError

log = logging.getLogger(__name__)

WRITE_TXN_MARKERS = 27
REQUEST_TIMEOUT_S = 10.0


def apply_marker(broker, producer_id: int, producer_epoch: int, commit: bool, coordinator_epoch: int, topic, index):
    """Append one marker to a partition this process leads: (error code, awaitable of the
    error code once the partition's ISR has the marker, or None when there is nothing to wait
    for). Markers are appended as with acks=all (Kafka's): a marker lost with its leader
    would leave the transaction open on that partition."""
    rm = broker.replica_manager
    partition = rm.partition(topic, index)
    if partition is None:
        return rm.not_led_error(topic, index), None
    if not partition.is_leader:
        return ErrorCode.NOT_LEADER_OR_FOLLOWER, None
    try:
        offset = partition.append_marker(producer_id, producer_epoch, commit, coordinator_epoch)
    except AppendError as exc:
        return exc.error_code, None
    except OSError as exc:
        log.warning("cannot write a transaction marker to %s-%d: %s", topic, index, exc)
        return ErrorCode.KAFKA_STORAGE_ERROR, None
    if topic == GROUP_METADATA_TOPIC:
        broker.group_coordinator.complete_txn(index, producer_id, commit)
    rm.notify_append(topic, index)
    if not partition.replicated or partition.high_watermark > offset:
        return ErrorCode.NONE, None
    return ErrorCode.NONE, _await_high_watermark(rm, partition, partition.leader_epoch, offset + 1, REQUEST_TIMEOUT_S)


async def settle(codes: dict, waiting: dict) -> dict:
    """``codes`` with each awaited replication's outcome in place of NONE."""
    if waiting:
        keys = list(waiting)
        for key, code in zip(keys, await asyncio.gather(*(waiting[k] for k in keys))):
            codes[key] = code
    return codes


class MarkerChannel:
    def __init__(self, broker):
        self.broker = broker
        self._clients: dict[int, BrokerClient] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._security: InterBrokerSecurity | None = None

    def _inter_broker(self) -> InterBrokerSecurity:
        """The inter-broker listener and its TLS and SASL login, as replica fetchers use them
        (read at the first marker sent to another broker or process)."""
        if self._security is None:
            self._security = InterBrokerSecurity.from_config(self.broker.config)
        return self._security

    async def write(
        self, producer_id: int, producer_epoch: int, commit: bool, coordinator_epoch: int, partitions
    ) -> dict[tuple[str, int], int]:
        """Have every partition's leader write the marker; (topic, partition) -> error code."""
        broker = self.broker
        metadata = broker.metadata
        rm = broker.replica_manager
        errors: dict[tuple[str, int], int] = {}
        waiting: dict[tuple[str, int], object] = {}
        remote: dict[int, list[tuple[str, int]]] = {}
        for topic, index in partitions:
            info = metadata.topics.get(topic)
            if info is None or not 0 <= index < info.num_partitions:
                errors[(topic, index)] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                continue
            partition = rm.partition(topic, index)
            if partition is not None and partition.is_leader:
                code, wait = apply_marker(broker, producer_id, producer_epoch, commit, coordinator_epoch, topic, index)
                errors[(topic, index)] = code
                if wait is not None:
                    waiting[(topic, index)] = wait
                continue
            state = metadata.partition_state(topic, index)
            if state is None or state.leader < 0:
                errors[(topic, index)] = ErrorCode.NOT_LEADER_OR_FOLLOWER
                continue
            remote.setdefault(state.leader, []).append((topic, index))
        if remote:
            answers = await asyncio.gather(
                *(
                    self._send(node, producer_id, producer_epoch, commit, coordinator_epoch, tps)
                    for node, tps in remote.items()
                )
            )
            for answer in answers:
                errors.update(answer)
        return await settle(errors, waiting)

    def _node(self, broker_id: int):
        if broker_id == self.broker.node.node_id:
            return self.broker.node
        find = getattr(self.broker.metadata, "alive_broker", None)
        return find(broker_id) if find is not None else None

    async def _send(self, broker_id, producer_id, producer_epoch, commit, coordinator_epoch, tps):
        node = self._node(broker_id)
        security = self._inter_broker()
        address = None
        if node is not None:
            address = security.address(node.endpoints) if node.endpoints else (node.host, node.port)
        if address is None:
            return {tp: ErrorCode.COORDINATOR_NOT_AVAILABLE for tp in tps}
        client = self._clients.get(broker_id)
        if client is None or (client.host, client.port) != address:
            if client is not None:
                client.close()
            client = self._clients[broker_id] = security.client(
                *address, f"txn-markers-{self.broker.node.node_id}", REQUEST_TIMEOUT_S
            )
        by_topic: dict[str, list[int]] = {}
        for topic, index in tps:
            by_topic.setdefault(topic, []).append(index)
        body = {
            "markers": [
                {
                    "producer_id": producer_id,
                    "producer_epoch": producer_epoch,
                    "transaction_result": commit,
                    "topics": [{"name": t, "partition_indexes": ps} for t, ps in by_topic.items()],
                    "coordinator_epoch": coordinator_epoch,
                }
            ]
        }
        lock = self._locks.setdefault(broker_id, asyncio.Lock())
        async with lock:
            try:
                answer = await client.request(WRITE_TXN_MARKERS, 0, body)
            except BrokerUnavailable as exc:
                log.info("transaction markers to broker %d: %s", broker_id, exc)
                return {tp: ErrorCode.COORDINATOR_NOT_AVAILABLE for tp in tps}
        out = {tp: ErrorCode.COORDINATOR_NOT_AVAILABLE for tp in tps}
        for m in answer.get("markers", []):
            for t in m["topics"]:
                for p in t["partitions"]:
                    out[(t["name"], p["partition_index"])] = p["error_code"]
        return out

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
