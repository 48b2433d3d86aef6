"""Replica fetchers: a follower copies its leaders' logs with Fetch (Kafka's ReplicaFetcherThread).

Theory of operation. ``ReplicaFetcherManager`` keeps one ``ReplicaFetcher`` per leader broker:
the partitions this broker follows with that leader share its one connection, as Kafka's fetcher
threads do. A fetcher's task loops:

1. partitions in the *truncating* state (just made follower, or a new leader epoch: KAFKA-7164)
   ask the leader OffsetForLeaderEpoch for their latest epoch and truncate (``truncation_offset``,
   KIP-101 and KIP-279); without an epoch they truncate to their high watermark;
2. one Fetch (``replica_id`` = this broker, ``fetch_offset`` = each log end offset, the current
   leader epoch) parked at the leader up to ``replica.fetch.wait.max.ms``; per partition the
   batches are appended as they came (``Partition.append_as_follower``), the high watermark and
   log start offset follow the leader's.

A fetcher connects to the leader's endpoint of the inter-broker listener, with its TLS and SASL
login (cluster/broker_client.py).

Errors per partition: OFFSET_OUT_OF_RANGE truncates again (or starts over at the leader's log
start when the follower fell below it); FENCED_LEADER_EPOCH waits for the controller's next
LeaderAndIsr; NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH and the like back off
``replica.fetch.backoff.ms``. A leader that cannot be reached is tried again after that backoff.

A response is applied to a partition only if it is still fetched in the same leader epoch by this
fetcher (``PartitionFetchState`` identity): a partition that became leader meanwhile never takes a
fetched batch.

Test hook: the environment variable HPBROKER_TEST_REPLICA_FETCH_GATE names a directory; while it
exists every fetcher sends a Fetch only when ``<dir>/allow`` holds a number above the fetches
sent so far, and writes what it applied to ``<dir>/applied`` (tests/cluster drive fetch rounds
one by one with it).

Who may touch: the event loop of the process that owns the partitions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass

from hpbroker import environment
from hpbroker.cluster.broker_client import BrokerClient, BrokerUnavailable, InterBrokerSecurity
from hpbroker.protocol.errors import ErrorCode
from hpbroker.storage.leader_epoch import UNDEFINED_EPOCH, UNDEFINED_OFFSET

log = logging.getLogger(__name__)

FETCH, FETCH_VERSION = 1, 11
OFFSET_FOR_LEADER_EPOCH, OFFSET_FOR_LEADER_EPOCH_VERSION = 23, 3


@dataclass(eq=False)
class PartitionFetchState:
    partition: object  # replication.partition.Partition
    leader_epoch: int
    truncating: bool = True
    delayed_until: float = 0.0  # loop time before which the partition is not fetched


def truncation_offset(
    leader_epoch: int, leader_end_offset: int, cache, log_end_offset: int, high_watermark: int
) -> tuple[int, bool]:
    """Where a follower truncates given the leader's answer (epoch, end offset) to its
    OffsetForLeaderEpoch for its latest epoch: (offset, done). Not done: the follower did not
    know the leader's epoch, truncated to the end of its own largest epoch below it, and asks
    again (KIP-279, Kafka's getOffsetTruncationState)."""
    if leader_end_offset == UNDEFINED_OFFSET:
        return min(high_watermark, log_end_offset), True
    if leader_epoch == UNDEFINED_EPOCH:
        return min(leader_end_offset, log_end_offset), True
    epoch, end = cache.end_offset_for(leader_epoch, log_end_offset)
    if epoch == UNDEFINED_EPOCH:
        return min(leader_end_offset, log_end_offset), True
    if epoch != leader_epoch:
        return min(end, log_end_offset), False
    return min(end, leader_end_offset, log_end_offset), True


class _Gate:
    """The fetch-round test hook (module docstring)."""

    def __init__(self, directory: str):
        self.directory = directory
        self.sent = 0

    async def wait_turn(self) -> None:
        while os.path.isdir(self.directory):
            try:
                with open(os.path.join(self.directory, "allow")) as f:
                    allowed = int(f.read().strip() or 0)
            except (OSError, ValueError):
                allowed = 0
            if allowed > self.sent:
                break
            await asyncio.sleep(0.02)
        self.sent += 1

    def applied(self, partitions) -> None:
        if not os.path.isdir(self.directory):
            return
        doc = {
            "fetches": self.sent,
            "partitions": {
                f"{p.topic}-{p.index}": {"log_end_offset": p.log_end_offset, "high_watermark": p.high_watermark}
                for p in partitions
            },
        }
        tmp = os.path.join(self.directory, "applied.tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, os.path.join(self.directory, "applied"))


class ReplicaFetcher:
    """The partitions followed with one leader, and the task fetching them."""

    def __init__(self, manager: ReplicaFetcherManager, leader_id: int):
        self.manager = manager
        self.leader_id = leader_id
        self.states: dict[tuple[str, int], PartitionFetchState] = {}
        self.client: BrokerClient | None = None
        self.wakeup = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"replica-fetcher-{leader_id}")
        gate = environment.value("HPBROKER_TEST_REPLICA_FETCH_GATE")
        self.gate = _Gate(gate) if gate else None

    def close(self) -> None:
        self.task.cancel()
        if self.client is not None:
            self.client.close()

    def _connect(self) -> BrokerClient | None:
        node = self.manager.metadata.alive_broker(self.leader_id)
        if node is None:
            return None
        security = self.manager.security
        address = security.address(node.endpoints) if node.endpoints else (node.host, node.port)
        if address is None:
            log.error(
                "replica fetcher: broker %d advertises no endpoint for the inter-broker listener %s",
                self.leader_id,
                security.listener_name,
            )
            return None
        if self.client is None or (self.client.host, self.client.port) != address:
            if self.client is not None:
                self.client.close()
            self.client = security.client(
                *address, f"replica-fetcher-{self.manager.broker_id}", self.manager.request_timeout_s
            )
        return self.client

    async def _run(self) -> None:
        m = self.manager
        loop = asyncio.get_running_loop()
        while self.states:
            client = self._connect()
            if client is None:  # the leader's address is not known yet (UpdateMetadata follows)
                await self._pause(0.1)
                continue
            try:
                truncating = {k: s for k, s in self.states.items() if s.truncating}
                if truncating:
                    await self._truncate(client, truncating)
                    continue
                now = loop.time()
                ready = {k: s for k, s in self.states.items() if s.delayed_until <= now}
                if not ready:
                    soonest = min(s.delayed_until for s in self.states.values())
                    await self._pause(max(soonest - now, 0.01))
                    continue
                if self.gate is not None:
                    await self.gate.wait_turn()
                    ready = {k: s for k, s in ready.items() if self.states.get(k) is s}
                    if not ready:
                        continue
                answer = await client.request(FETCH, FETCH_VERSION, self._fetch_request(ready))
                self._apply_fetch(answer, ready)
                if self.gate is not None:
                    self.gate.applied([s.partition for s in ready.values()])
            except BrokerUnavailable as exc:
                log.info("replica fetcher to broker %d: %s; retrying", self.leader_id, exc)
                await self._pause(m.backoff_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("replica fetcher to broker %d failed; retrying", self.leader_id)
                await self._pause(m.backoff_s)

    async def _pause(self, seconds: float) -> None:
        self.wakeup.clear()
        try:
            await asyncio.wait_for(self.wakeup.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    # -- truncation -------------------------------------------------------------------------------
    async def _truncate(self, client: BrokerClient, states: dict[tuple[str, int], PartitionFetchState]) -> None:
        without_epoch = {k: s for k, s in states.items() if s.partition.log.leader_epoch_cache.latest_epoch < 0}
        for s in without_epoch.values():
            p = s.partition
            self._truncate_partition(p, min(p.high_watermark, p.log_end_offset), "it has no leader epoch")
            s.truncating = False
        asking = {k: s for k, s in states.items() if k not in without_epoch}
        if not asking:
            return
        topics: dict[str, list] = {}
        for (topic, index), s in asking.items():
            topics.setdefault(topic, []).append(
                {
                    "partition": index,
                    "current_leader_epoch": s.leader_epoch,
                    "leader_epoch": s.partition.log.leader_epoch_cache.latest_epoch,
                }
            )
        body = {
            "replica_id": self.manager.broker_id,
            "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()],
        }
        answer = await client.request(OFFSET_FOR_LEADER_EPOCH, OFFSET_FOR_LEADER_EPOCH_VERSION, body)
        backoff = asyncio.get_running_loop().time() + self.manager.backoff_s
        for t in answer["topics"]:
            for r in t["partitions"]:
                key = (t["topic"], r["partition"])
                s = asking.get(key)
                if s is None or self.states.get(key) is not s:
                    continue
                code = r["error_code"]
                if code != ErrorCode.NONE:
                    log.info("OffsetForLeaderEpoch of %s-%d at broker %d: error %d", *key, self.leader_id, code)
                    s.delayed_until = backoff
                    if code == ErrorCode.FENCED_LEADER_EPOCH:
                        s.delayed_until = float("inf")  # the controller's next LeaderAndIsr re-adds it
                    continue
                p = s.partition
                cache = p.log.leader_epoch_cache
                offset, done = truncation_offset(
                    r["leader_epoch"], r["end_offset"], cache, p.log_end_offset, p.high_watermark
                )
                self._truncate_partition(
                    p,
                    offset,
                    f"the leader's epoch {r['leader_epoch']} ends at {r['end_offset']} (own cache {cache.entries()})",
                )
                s.truncating = not done

    def _truncate_partition(self, p, offset: int, why: str) -> None:
        if offset < p.log_end_offset:
            log.info("truncating %s-%d from %d to %d: %s", p.topic, p.index, p.log_end_offset, offset, why)
            self.manager.before_truncate(p, offset)
            p.truncate_to(offset)
            self.manager.after_follower_change(p)

    # -- fetch --------------------------------------------------------------------------------------
    def _fetch_request(self, states: dict[tuple[str, int], PartitionFetchState]) -> dict:
        m = self.manager
        topics: dict[str, list] = {}
        for (topic, index), s in states.items():
            p = s.partition
            topics.setdefault(topic, []).append(
                {
                    "partition": index,
                    "current_leader_epoch": s.leader_epoch,
                    "fetch_offset": p.log_end_offset,
                    "log_start_offset": p.log_start_offset,
                    "partition_max_bytes": m.fetch_max_bytes,
                }
            )
        return {
            "replica_id": m.broker_id,
            "max_wait_ms": m.fetch_wait_max_ms,
            "min_bytes": m.fetch_min_bytes,
            "max_bytes": m.fetch_response_max_bytes,
            "isolation_level": 0,
            "session_id": 0,
            "session_epoch": -1,
            "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()],
            "forgotten_topics_data": [],
            "rack_id": "",
        }

    def _apply_fetch(self, answer: dict, sent: dict[tuple[str, int], PartitionFetchState]) -> None:
        m = self.manager
        backoff = asyncio.get_running_loop().time() + m.backoff_s
        for t in answer["responses"]:
            for r in t["partitions"]:
                key = (t["topic"], r["partition_index"])
                s = sent.get(key)
                if s is None or self.states.get(key) is not s:
                    continue  # removed or re-added in another epoch while the fetch was out
                p = s.partition
                if p.is_leader or p.leader_epoch != s.leader_epoch:
                    continue
                code = r["error_code"]
                if code == ErrorCode.NONE:
                    records = r["records"]
                    try:
                        if records is not None and len(records):
                            p.append_as_follower(records)
                        p.follow_leader_offsets(r["high_watermark"], r["log_start_offset"])
                    except OSError as exc:
                        log.error("cannot append fetched batches to %s-%d: %s", *key, exc)
                        s.delayed_until = backoff
                        continue
                    except Exception as exc:  # a batch that does not follow: truncate and try again
                        log.warning("fetched batches of %s-%d refused (%s); truncating again", *key, exc)
                        s.truncating = True
                        continue
                    m.after_follower_change(p)
                elif code == ErrorCode.OFFSET_OUT_OF_RANGE:
                    leader_start = r["log_start_offset"]
                    if 0 <= p.log_end_offset < leader_start:
                        log.info(
                            "%s-%d: log end %d is below the leader's log start %d; starting over there",
                            *key,
                            p.log_end_offset,
                            leader_start,
                        )
                        p.truncate_fully_and_start_at(leader_start)
                        m.after_follower_change(p)
                    else:
                        s.truncating = True
                elif code == ErrorCode.FENCED_LEADER_EPOCH:
                    s.delayed_until = float("inf")
                else:
                    log.info("fetch of %s-%d from broker %d: error %d; backing off", *key, self.leader_id, code)
                    s.delayed_until = backoff


class ReplicaFetcherManager:
    """The fetchers of one process: ``add`` on becoming follower (or on a new leader epoch),
    ``remove`` on becoming leader or stopping the replica."""

    def __init__(self, config, broker_id: int, metadata, *, before_truncate=None, after_follower_change=None):
        self.broker_id = broker_id
        self.metadata = metadata
        #: the leaders' inter-broker listener: its endpoint, TLS and SASL login
        self.security = InterBrokerSecurity.from_config(config)
        self.fetch_wait_max_ms = config.get("replica.fetch.wait.max.ms")
        self.fetch_min_bytes = config.get("replica.fetch.min.bytes")
        self.fetch_max_bytes = config.get("replica.fetch.max.bytes")
        self.fetch_response_max_bytes = config.get("replica.fetch.response.max.bytes")
        self.backoff_s = config.get("replica.fetch.backoff.ms") / 1000.0
        self.request_timeout_s = max(config.get("replica.socket.timeout.ms") / 1000.0, self.fetch_wait_max_ms / 500.0)
        self.fetchers: dict[int, ReplicaFetcher] = {}
        self.before_truncate = before_truncate or (lambda p, offset: None)
        self.after_follower_change = after_follower_change or (lambda p: None)

    def add(self, partition) -> None:
        key = (partition.topic, partition.index)
        self.remove(key)
        leader = partition.leader_id
        if leader < 0:
            return
        fetcher = self.fetchers.get(leader)
        if fetcher is None or fetcher.task.done():
            fetcher = self.fetchers[leader] = ReplicaFetcher(self, leader)
        fetcher.states[key] = PartitionFetchState(partition, partition.leader_epoch)
        fetcher.wakeup.set()

    def remove(self, key: tuple[str, int]) -> None:
        for leader, fetcher in list(self.fetchers.items()):
            if fetcher.states.pop(key, None) is not None and not fetcher.states:
                fetcher.close()
                del self.fetchers[leader]

    def fetching(self, key: tuple[str, int]) -> bool:
        return any(key in f.states for f in self.fetchers.values())

    def close(self) -> None:
        for fetcher in self.fetchers.values():
            fetcher.close()
        self.fetchers.clear()
