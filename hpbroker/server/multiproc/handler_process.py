"""A handler process: the only writer of the partitions that hash to it.

Theory of operation
-------------------
Each processor has one request ring into this handler and one response ring back. When a
processor writes its eventfd, the handler drains every request ring: it decodes the request
(Produce straight from the ring memory: the record batch is validated, patched in place and
written to the segment file from shared memory, so the socket -> ring copy is the only copy;
other requests are small and copied into a bytearray first because their handler may still
use them after the ring slot is freed), runs the same handler module the in-process mode runs,
and writes the encoded answer into the response ring of the processor that asked.

Back-pressure: if a response ring is full the answer waits in a per-processor deque and this
handler stops taking requests from that processor until the processor frees space (it writes
our eventfd when it does), so the deque holds at most the answers of requests already taken.

Controller (handler 0): after a request changed the topic registry, it publishes the registry
in shared memory (server/multiproc/metadata_snapshot.py), bumps the metadata generation, wakes every
handler, and answers only when all of them have applied the new registry, so a client that
created a topic can produce to every partition at once. It also publishes once at start-up,
before the processors start.

In a cluster (``zookeeper.connect``), handler 0 is the broker's member of it instead
(server/multiproc/cluster_handlers.py): before it says it is ready it connects to ZooKeeper
(however long that takes: the supervisor waits); once the supervisor says the processors listen
(the cluster phase word, topology.py) it registers, starts its controller, and when the
controller has sent this registration the cluster it publishes the metadata and says it serves.
It publishes again after every change the controller's requests or ZooKeeper bring, and answers
the controller only once every handler applied it. Asked by the supervisor at SIGTERM, it makes
the controlled shutdown while the processors still serve.

Restart: a new incarnation discards what is left in its request rings (the processors close the
connections that waited on the old one; clients reconnect and retry, idempotent producers
without duplicates) and recovers its partitions from disk.

Who may touch: everything here belongs to this process's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections import deque
from time import monotonic_ns

from hpbroker import request_path
from hpbroker.broker.request import INTERNAL_SESSION
from hpbroker.broker.routes import owned_request
from hpbroker.metrics import gauges, snapshot
from hpbroker.metrics.layout import HANDLER as HANDLER_ROLE
from hpbroker.metrics.layout import Gauge
from hpbroker.metrics.stats import ProcessStats
from hpbroker.request_path import Refused
from hpbroker.server import listeners, scheduling
from hpbroker.server.multiproc import envelope as env
from hpbroker.server.multiproc.handler_broker import HandlerBroker
from hpbroker.server.multiproc.ring import FULL, WAKE
from hpbroker.server.multiproc.routing import CONTROLLER_HANDLER, owner, route_for
from hpbroker.server.multiproc.topology import (
    CLUSTER_REFUSED,
    CLUSTER_REGISTER,
    CLUSTER_SERVING,
    CLUSTER_SHUT_DOWN,
    CLUSTER_SHUTDOWN,
)
from hpbroker.server.multiproc.wakeups import SafetyTick, WakeBatcher, tell_ready
from hpbroker.storage.write_failures import warn_storage_failure

log = logging.getLogger(__name__)

PRODUCE, LIST_OFFSETS = 0, 2
BATCH = 256  # records taken from one ring before looking at the others (fairness)
SAFETY_DRAIN_S = 0.05  # under load, a lost wake-up costs at most this much latency
SYNC_RETRY_S = 1.0  # a registry whose partitions could not be opened is tried again this often
IDLE_DRAIN_S = 1.0  # the safety drain's period once nothing flows (wakeups.SafetyTick)
MAINTENANCE_S = 1.0
METADATA_SYNC_TIMEOUT_S = 10.0
PHASE_POLL_S = 0.05
FIRST_METADATA_WAIT_S = 30.0


class HandlerProcess:
    def __init__(self, topology, index: int, config, node):
        self.topo = topology
        self.index = index
        self.config = config
        self.node = node
        self.is_controller = index == CONTROLLER_HANDLER
        #: in a cluster, handler 0 is the broker's member of it (server/multiproc/cluster_handlers.py)
        self.cluster = bool(config.get("zookeeper.connect"))
        self.member = None
        self._may_publish = not self.cluster  # a cluster's metadata only once the controller sent it all
        self._publish_scheduled = False
        self._cluster_tasks: list[asyncio.Task] = []
        self._shutting_down = False
        self.handled = 0  # records taken from the request rings (the safety period watches it)
        self._sessions: dict = {}  # envelope session bytes -> Session (a few per connection)
        self._timer = SafetyTick(SAFETY_DRAIN_S, IDLE_DRAIN_S)  # runs _tick from run()

    async def run(self, ready_fd: int | None = None) -> None:
        topo, h = self.topo, self.index
        self.loop = loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        loop.add_signal_handler(signal.SIGTERM, topo.sigterm_handler(self._stop.set, self.cluster, f"handler {h}"))
        handlers = topo.handlers
        self.stats = ProcessStats(topo.stats_region(HANDLER_ROLE, h), role=HANDLER_ROLE, index=h)
        self._rec = self.stats.recorder
        self._idle = gauges.IdleClock()
        self._metrics_on = bool(self.config.get("metrics.port"))
        self._published = snapshot.SharedPublished(topo.stats_snapshot(h))
        self.broker = await self._make_broker(lambda t, p: owner(t, p, handlers) == h)
        if self.broker is None:
            log.info("handler %d stopped before ZooKeeper answered", h)
            return
        self._peers = [f"processor {p}" for p in range(topo.processors)]
        self.req_rings = [topo.request_ring(p, h) for p in range(topo.processors)]
        self.resp_rings = [topo.response_ring(p, h) for p in range(topo.processors)]
        self.blocked = [deque() for _ in range(topo.processors)]
        self._tasks: set[asyncio.Task] = set()
        self._wakes = WakeBatcher(loop, topo.processor_efds)  # written once per pass
        for p, ring in enumerate(self.req_rings):
            if ring.discard_all():
                topo.wake(topo.processor_efds[p])
        # only now: processors close the connections waiting on the previous incarnation when
        # they see this move, and whatever they send after that is answered
        topo.bump_handler_incarnation(h)
        if self.is_controller and not self.cluster:
            # the snapshot processors read (they start once every handler is ready); a restarted
            # controller publishes again, in case its predecessor died between file and snapshot
            topo.publish_registry(self.broker.metadata.topics)
            topo.bump_metadata_generation()
        self._seen_generation = topo.metadata_generation
        self._sync_retry_at = 0.0
        topo.set_handler_seen_generation(h, self._seen_generation)
        self._efd = topo.handler_efds[h]
        loop.add_reader(self._efd, self._on_wake)
        self._timer.start(loop, self._tick)
        self._maintenance = loop.call_later(MAINTENANCE_S, self._run_maintenance)
        log.info(
            "handler %d ready (pid %d): %d partitions", h, os.getpid(), len(self.broker.replica_manager.partitions)
        )
        tell_ready(ready_fd)
        if self.member is not None:
            self._cluster_tasks.append(loop.create_task(self._join_cluster()))
        self._drain()
        try:
            await self._stop.wait()
        finally:
            loop.remove_reader(self._efd)
            self._timer.stop()
            self._maintenance.cancel()
            for t in list(self._tasks) + self._cluster_tasks:
                t.cancel()
            if self.member is not None:
                await self.member.close()  # the registration goes at once
            self.broker.close()
            log.info("handler %d stopped cleanly", h)

    async def _make_broker(self, owns):
        topo, h = self.topo, self.index
        if not self.cluster:
            return HandlerBroker(
                self.config,
                self.node,
                handler=h,
                table=topo.table(),
                owns=owns,
                read_registry=topo.read_registry,
                stats=self.stats,
            )
        from hpbroker.server.multiproc import cluster_handlers

        if not self.is_controller:
            return cluster_handlers.ShardHandlerBroker(
                self.config,
                self.node,
                handler=h,
                table=topo.table(),
                owns=owns,
                read_registry=lambda path: topo.read_registry(path, cluster=True),
                stats=self.stats,
            )
        from hpbroker.cluster.member import ClusterMember

        member = ClusterMember(self.config, self.node.node_id, self.stats)
        if not await member.connect(self._stop):  # tries until ZooKeeper answers; the supervisor waits
            return None  # asked to stop meanwhile
        self.member = member
        broker = cluster_handlers.ControllerHandlerBroker(
            self.config, self.node, self.member, handler=h, table=topo.table(), owns=owns, stats=self.stats
        )
        await broker.start()
        broker.metadata.listeners.append(self._cluster_metadata_changed)
        return broker

    # the cluster (handler 0) --------------------------------------------------------------------
    async def _join_cluster(self) -> None:
        """Register once the processors listen (the supervisor says so), wait for the
        controller to send this registration the cluster, publish it, and say so."""
        from hpbroker.broker.cluster import registration
        from hpbroker.cluster.zk_client import BrokerIdInUseError

        topo = self.topo
        while topo.cluster_phase < CLUSTER_REGISTER:
            await asyncio.sleep(PHASE_POLL_S)
        try:
            await self.member.register(registration(self.node, listeners.from_config(self.config).protocols()))
        except BrokerIdInUseError as exc:
            log.error("cannot start: %s: is another broker running with broker.id %d?", exc, self.node.node_id)
            topo.set_cluster_phase(CLUSTER_REFUSED)
            self._stop.set()
            return
        self.member.start_controller()
        broker = self.broker
        if not await broker.metadata.wait_for(lambda: broker.has_cluster_metadata, FIRST_METADATA_WAIT_S):
            log.warning("no UpdateMetadata from a controller within %.0f s of registering", FIRST_METADATA_WAIT_S)
        self._may_publish = True
        self._publish()
        if topo.cluster_phase == CLUSTER_REGISTER:
            topo.set_cluster_phase(CLUSTER_SERVING)

    def _cluster_metadata_changed(self) -> None:
        """Handler 0's metadata moved (a controller request, a config change): publish it soon
        (requests wait for every handler to apply it before they are answered: _answer)."""
        self.broker.controller.changed = True
        if self._may_publish and not self._publish_scheduled:
            self._publish_scheduled = True
            self.loop.call_soon(self._publish)

    def _publish(self) -> None:
        self._publish_scheduled = False
        topo = self.topo
        topo.publish_registry(self.broker.metadata.topics)
        gen = topo.bump_metadata_generation()
        self._seen_generation = gen
        topo.set_handler_seen_generation(self.index, gen)
        for efd in topo.handler_efds:
            topo.wake(efd)

    def _check_cluster_phase(self) -> None:
        """The supervisor asks for a controlled shutdown: move this broker's leaderships away
        while the processors still serve, then say it is done."""
        if self.member is None or self.topo.cluster_phase != CLUSTER_SHUTDOWN or self._shutting_down:
            return
        self._shutting_down = True

        async def shut_down():
            try:
                await self.member.controlled_shutdown()
            finally:
                self.topo.set_cluster_phase(CLUSTER_SHUT_DOWN)

        self._cluster_tasks.append(self.loop.create_task(shut_down()))

    # wake-ups ---------------------------------------------------------------------------------
    def _on_wake(self) -> None:
        self.topo.drain(self._efd)
        self._check_cluster_phase()
        self._drain()
        self._timer.work_arrived()

    def _tick(self) -> None:
        self._check_cluster_phase()
        self._drain()
        scheduling.tick()
        waiting = bool(self._tasks) or any(self.blocked)
        self._timer.again(self.handled, waiting)

    def _run_maintenance(self) -> None:
        try:
            self.broker.run_maintenance()
        except Exception:
            log.exception("log maintenance failed")
        if self._metrics_on:
            try:
                gauges.update_broker(self.broker, self.stats, controller=self.is_controller)
                gauges.update_idle(self.stats, self._idle, Gauge.HANDLER_IDLE_PPM)
                rm = self.broker.replica_manager
                self._published.publish(snapshot.build(self.broker, rm.high_watermark_of))
            except Exception:
                log.exception("metrics update failed")
        self._maintenance = self.loop.call_later(MAINTENANCE_S, self._run_maintenance)

    def _sync_metadata(self) -> None:
        """Apply a new registry before serving anything else. If this handler cannot open the
        files of a partition it now owns (a full disk, no descriptors left), it keeps serving what
        is open and tries again every SYNC_RETRY_S, without acknowledging the generation
        meanwhile: were the failure to escape ``_drain``, no request ring would be drained any
        more, for any partition of the handler (tests/integration/test_full_disk.py)."""
        gen = self.topo.metadata_generation
        if gen == self._seen_generation:
            return
        if not self.is_controller:  # the controller wrote it: its registry is current
            now = time.monotonic()
            if now < self._sync_retry_at:
                return
            try:
                self.broker.sync_topics()  # opens what is missing: a retry picks up where it failed
            except OSError as exc:
                self._sync_retry_at = now + SYNC_RETRY_S
                warn_storage_failure(
                    log,
                    ("sync", self.index),
                    "handler %d cannot open the partitions of metadata generation %d: %s; retrying every %g s",
                    self.index,
                    gen,
                    exc,
                    SYNC_RETRY_S,
                )
                return
        self._seen_generation = gen
        self.topo.set_handler_seen_generation(self.index, gen)

    # requests ---------------------------------------------------------------------------------
    def _drain(self) -> None:
        self._sync_metadata()
        topo = self.topo
        again = False
        for p, ring in enumerate(self.req_rings):
            if self.blocked[p] and not self._flush_blocked(p):
                continue
            for _ in range(BATCH):
                view = ring.peek()
                if view is None:
                    break
                self.handled += 1
                try:
                    self._handle_record(p, view)
                finally:
                    if ring.release():
                        self._wake(p)
                if self.blocked[p]:
                    break
            else:
                again = True
        if again:
            self.loop.call_soon(self._drain)
        rm = self.broker.replica_manager
        if rm.appended:
            # new data: wake the processors with parked long-poll Fetches (once per pass)
            rm.appended = False
            for q in range(topo.processors):
                if topo.processor_has_parked_fetches(q):
                    self._wakes.add(q)
        self._wakes.flush()

    def _wake(self, p: int) -> None:
        self._wakes.wake(p)

    def _handle_record(self, p: int, view: memoryview) -> None:
        conn_id, seq, kind, api_key, api_version, session_length, correlation_id, received = env.REQUEST.unpack_from(
            view
        )
        if session_length:
            end = env.REQUEST.size + session_length
            key = bytes(view[env.REQUEST.size : end])
            session = self._sessions.get(key)
            if session is None:
                if len(self._sessions) > 10_000:
                    self._sessions.clear()
                session = self._sessions[key] = env.read_session(key)
            frame = view[end:]
        else:  # no authorizer, or the processor's own request (ask_controller)
            session = INTERNAL_SESSION
            frame = view[env.REQUEST.size :]
        if api_key != PRODUCE:
            frame = bytearray(frame)  # small; its handler may keep it after the slot is freed
        reply = (p, conn_id, seq)
        start = monotonic_ns()
        try:
            ctx, answer = request_path.serve(
                self.broker,
                frame,
                self._peers[p],
                request_path.encode_frame,
                self._owned if kind == env.OWNED else None,
                None,
                session,
                internal=kind == env.ASK,
            )
        except Refused as refused:
            log.warning(
                "closing a request of api key %d v%d from processor %d: %s", api_key, api_version, p, refused.reason
            )
            return self._push(reply, env.CLOSE)
        local = monotonic_ns()
        if type(answer) is not bytes and answer is not None:  # parked: run it, answer when done
            task = self.loop.create_task(answer)
            self._tasks.add(task)
            timing = (api_key, received, start, local)
            task.add_done_callback(lambda t, r=reply, c=ctx, m=timing: self._finish(t, r, c, m))
            return
        if api_key not in (PRODUCE, LIST_OFFSETS):
            self.broker.replica_manager.publish_all()  # DeleteRecords, topic changes: log_start_offset may move
        # request metrics of the handler's part: queue (since the processor received it), local
        self._rec.handled(api_key, received, start, local, local)
        self._answer(reply, answer)

    def _owned(self, api_key: int, request: dict) -> dict:
        """A part of a split request: the processor sent only our partitions; restricting again
        costs little and keeps this process the only writer of its partitions whatever a
        processor sends."""
        return owned_request(request, route_for(api_key).split, self.broker.replica_manager.owns)

    def _finish(self, task: asyncio.Task, reply, ctx, timing) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        self._rec.handled(*timing, monotonic_ns())
        try:
            frame = request_path.encode_frame(ctx, request_path.result_of(ctx, task))
        except Refused:
            return self._push(reply, env.CLOSE)
        self._answer(reply, frame)

    def _answer(self, reply, frame: bytes | None) -> None:
        """Push an encoded answer (None: the protocol has none, as for acks=0 Produce); the
        controller first publishes a registry it changed."""
        if self.is_controller and self.broker.controller.changed and self._may_publish:
            task = self.loop.create_task(self._answer_after_sync(reply, frame))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        if frame is None:
            return self._push(reply, env.NONE)
        self._push(reply, env.FRAME, frame)

    async def _answer_after_sync(self, reply, frame: bytes | None) -> None:
        """Controller: publish the new registry and wait until every handler applied it."""
        self.broker.controller.changed = False
        topo = self.topo
        topo.publish_registry(self.broker.metadata.topics)
        gen = topo.bump_metadata_generation()
        self._seen_generation = gen
        topo.set_handler_seen_generation(self.index, gen)
        for efd in topo.handler_efds:
            topo.wake(efd)
        deadline = self.loop.time() + METADATA_SYNC_TIMEOUT_S
        while self.loop.time() < deadline:
            if all(topo.handler_seen_generation(h) >= gen for h in range(topo.handlers)):
                break
            await asyncio.sleep(0.001)
        else:
            log.warning(
                "metadata generation %d not applied by every handler within %.0fs", gen, METADATA_SYNC_TIMEOUT_S
            )
        self._answer(reply, frame)

    # responses --------------------------------------------------------------------------------
    def _push(self, reply, status: int, body: bytes = b"") -> None:
        p, conn_id, seq = reply
        room = self.resp_rings[p].max_record - env.RESPONSE.size
        if len(body) > room:
            # larger than a ring record: in pieces, one after the other (the processor joins them)
            stamp = env.stamp(monotonic_ns())
            view = memoryview(body)
            for at in range(0, len(body) - room, room):
                self._push_record(p, env.RESPONSE.pack(conn_id, seq, env.FRAGMENT, 0, stamp), view[at : at + room])
            body = view[(len(body) - 1) // room * room :]
        self._push_record(p, env.RESPONSE.pack(conn_id, seq, status, 0, env.stamp(monotonic_ns())), body)

    def _push_record(self, p: int, head: bytes, body) -> None:
        if self.blocked[p]:
            self.blocked[p].append((head, body))
            return
        res = self.resp_rings[p].try_push(head, body)
        if res == FULL:
            self.blocked[p].append((head, body))
        elif res == WAKE:
            self._wake(p)

    def _flush_blocked(self, p: int) -> bool:
        ring, pending = self.resp_rings[p], self.blocked[p]
        while pending:
            head, body = pending[0]
            res = ring.try_push(head, body)
            if res == FULL:
                return False
            pending.popleft()
        self._wake(p)
        return True
