"""A processor process: client connections on the shared port, requests routed to handlers.

Theory of operation
-------------------
Every processor binds the broker's port with SO_REUSEPORT; the kernel spreads new connections
over them. A connection is the in-process ``Connection`` (framing, per-connection sequence
numbers, responses released in request order, sendfile) with one hook changed: a complete frame
is routed by API (server/multiproc/routing.py, from each API module's ROUTE) instead of being
served here.

- APIs the processor serves (ApiVersions, Metadata, FindCoordinator, DescribeCluster,
  DescribeLogDirs, ACLs, Fetch) run through the request path here, with the same handler modules,
  against ``ProcessorBroker`` (metadata snapshot + partition table + segment readers; what only
  the controller may do, such as creating an auto-created topic, it asks of handler 0 through
  the ring: ``ask_controller``).
- Forwarded APIs are copied from the connection's read buffer straight into the request ring of
  the owning handler: that is the one copy of the payload between socket and log. A Produce
  (ListOffsets, DeleteRecords) whose partitions belong to several handlers is cut into one
  sub-request per owner, holding only that owner's partitions: its header and small fields are
  re-encoded, its record batches stay views of the frame, and the ring push gathers them, so
  each record byte is still copied once, into one ring. Sub-requests go flagged OWNED; the
  partial answers are joined into one response in the order of the request.
- Group requests go to the handler coordinating the group (the owner of its __consumer_offsets
  partition). DescribeGroups and DeleteGroups naming groups of several handlers are split the
  same way (each handler gets a request naming only its groups), ListGroups goes to every
  handler; the answers are joined in the order of the request.
- A Produce larger than the read buffer is first received into the connection's large-frame
  buffer and copied into a ring when complete: two copies. When the rest of such a frame is
  already in the kernel's receive buffer (FIONREAD; SO_RCVLOWAT at the remainder makes that the
  usual case at the next wake-up) and its first bytes name its first partition
  (``routing.produce_first_partition``), the rest is received straight into a record reserved,
  unpublished, in the ring of that partition's owner, within one callback: nothing else can
  push to that ring meanwhile, and a partial frame is never published (a short read gives the
  bytes back to the large-frame buffer and abandons the record). If that handler owns every
  partition the record is published as it is; otherwise every other owner first gets its
  partitions gathered from the record (all or nothing, as below), then the record is published
  flagged OWNED with the whole frame: its handler acts only on its own partitions. Anything
  else (ring full, bytes still on their way, another API, any doubt) takes the ordinary path.
  Why not from a frame's first bytes: its owners are known only once it is all in (a Produce
  names each partition after the records of the one before); a record reserved across reads
  holds its ring's tail, so a client trickling a large request would stall every other
  connection of this processor routed to that handler; and reserving the size a frame
  announces would let a size prefix followed by silence pin ring space.
- A full ring pauses the connection (the frame stays unparsed in its buffer) until the handler
  frees space and writes our eventfd: back-pressure reaches the client through TCP.
- Answers arrive on the response rings; ``_complete`` puts them in request order.

A handler restart (its incarnation word moves) closes every connection that waits for an answer
from its previous incarnation: the client reconnects and retries. Requests pushed to the new
incarnation before a tick notices the restart are answered as usual. A restarted processor
starts connection ids at its pid, so answers meant for the connections of its previous
incarnation are dropped.

Who may touch: everything here belongs to this process's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from time import monotonic_ns

from hpbroker import protocol, request_path
from hpbroker.broker.interface import ControllerError
from hpbroker.broker.routes import CONTROLLER, EVERY, FETCH, GROUP, GROUPS, PARTITIONED, PROCESSOR
from hpbroker.metrics import gauges
from hpbroker.metrics.layout import PROCESSOR as PROCESSOR_ROLE
from hpbroker.metrics.layout import Gauge
from hpbroker.metrics.stats import ProcessStats
from hpbroker.protocol import ProtocolError
from hpbroker.protocol.errors import ErrorCode
from hpbroker.request_path import Refused
from hpbroker.server import listener_security, scheduling
from hpbroker.server.connection import Acceptor, listening_socket, max_idle_s
from hpbroker.server.connection_quotas import ConnectionLimits, SharedCounts
from hpbroker.server.multiproc import envelope as env
from hpbroker.server.multiproc import produce_split
from hpbroker.server.multiproc.processor_broker import ProcessorBroker
from hpbroker.server.multiproc.processor_connection import Pending, ProcessorConnection, TlsProcessorConnection
from hpbroker.server.multiproc.ring import FULL, WAKE
from hpbroker.server.multiproc.routing import (
    CONTROLLER_HANDLER,
    PRODUCE,
    REPLICA_FETCH_HEADROOM,
    REPLICA_FETCH_MAX_BYTES,
    cut_by_owner,
    cut_replica_fetch,
    group_owner,
    join_every,
    join_group_answers,
    join_responses,
    replica_id,
    route_for,
    split_groups,
)
from hpbroker.server.multiproc.wakeups import SafetyTick, WakeBatcher, tell_ready

log = logging.getLogger(__name__)

ASK_TIMEOUT_S = 30.0  # how long this processor's own request to the controller may take
ASK_RETRY_S = 0.005  # ... and how often it looks for room in a full ring
HOUSEKEEPING_S = 0.05  # under load; backs off to IDLE_HOUSEKEEPING_S when idle (SafetyTick)
IDLE_HOUSEKEEPING_S = 1.0
TRIM_EVERY_S = 1.0  # how often idle connections are asked to give back grown buffers
FETCH_POLL_S = 0.01  # backstop only: handlers wake processors with parked Fetches
FETCH_POLL_MAX_S = 0.25  # ... so while Fetches stay parked it backs off to this
GAUGES_EVERY_S = 1.0  # idle ratio and purgatory size (the metrics endpoint's gauges)


class ProcessorServer:
    def __init__(self, topology, index: int, config, node, listeners):
        self.topo = topology
        self.index = index
        self.config = config
        self.node = node
        self.listeners = listeners  # bound: the ports the supervisor reserved
        self.setup_timeout_s = config.get("socket.connection.setup.timeout.ms") / 1000.0
        self.failed_authentications = 0
        self.security: dict = {}  # listener name -> listener_security.ListenerSecurity, built in run()
        self.authorizing = False  # ACLs in force: forwarded requests carry their session
        self._lsocks: dict = {}
        self._acceptors: dict = {}
        self.max_request_bytes = config.get("socket.request.max.bytes")
        self.max_idle_s = max_idle_s(config)
        self.connections: dict[int, ProcessorConnection] = {}
        self.pending: dict[tuple[int, int], Pending] = {}
        #: pieces of answers larger than a ring record, by (handler, connection id, sequence)
        self._fragments: dict[tuple[int, int, int], list[bytes]] = {}
        self.stalled: set[ProcessorConnection] = set()
        self.ring_full_pauses = 0  # reported at shutdown: how often back-pressure paused a client
        self.late_answers = 0  # reported at shutdown: answers only the safety drain found
        # answers drained from the response rings: with ``pending`` (requests in flight), what
        # the safety period watches; requests served here (Fetch, Metadata) never touch a ring
        self.answered = 0
        self._fetch_poll_s = FETCH_POLL_S
        self.slot_frames = 0  # large Produce frames received straight into a ring record
        self.slot_fallbacks = 0  # ... of which the reservation was abandoned after all
        self._next_conn_id = os.getpid() << 24
        # the connection id of this processor's own requests (ask_controller): never a client's,
        # whose ids start above it, nor a previous incarnation's (another pid)
        self._asks_conn_id = self._next_conn_id
        self.asks: dict[int, tuple[asyncio.Future, int]] = {}  # seq -> (answer, controller incarnation)
        self._next_ask = 0
        self._wakes: WakeBatcher | None = None  # handler eventfds, written once per pass
        self._housekeeping = SafetyTick(HOUSEKEEPING_S, IDLE_HOUSEKEEPING_S)  # runs _tick from run()
        # what this processor counts: its region of the shared statistics once ``run`` starts
        self.stats = ProcessStats(role=PROCESSOR_ROLE, index=index)

    async def run(self, ready_fd: int | None = None) -> None:
        topo, p = self.topo, self.index
        self.loop = loop = asyncio.get_running_loop()
        self._wakes = WakeBatcher(loop, self.topo.handler_efds)
        self._stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        cluster = bool(self.config.get("zookeeper.connect"))
        loop.add_signal_handler(signal.SIGTERM, topo.sigterm_handler(self._stop.set, cluster, f"processor {p}"))
        self.stats = ProcessStats(topo.stats_region(PROCESSOR_ROLE, p), role=PROCESSOR_ROLE, index=p)
        self._idle = gauges.IdleClock()
        self._next_gauges = 0.0
        self.broker = ProcessorBroker(self.config, self.node, topo, self.ask_controller, stats=self.stats)
        self.security = listener_security.build(self.config, self.listeners, self.broker.credentials)
        self.authorizing = self.broker.authorizer is not None
        self.req_rings = [topo.request_ring(p, h) for h in range(topo.handlers)]
        self.resp_rings = [topo.response_ring(p, h) for h in range(topo.handlers)]
        for h, ring in enumerate(self.resp_rings):
            if ring.discard_all():  # answers for the connections of a previous incarnation
                topo.wake(topo.handler_efds[h])
        self._incarnations = [topo.handler_incarnation(h) for h in range(topo.handlers)]
        self._efd = topo.processor_efds[p]
        quotas = SharedCounts(
            ConnectionLimits.from_config(self.config),
            topo.connection_counts(),
            p,
            topo.processors,
            config=self.config,
            refresh=self.broker.refresh,
        )
        for lst in self.listeners.listeners:
            self._lsocks[lst.name] = lsock = listening_socket(lst.host, lst.port, self.config, reuse_port=True)
            self._acceptors[lst.name] = acceptor = Acceptor(
                loop,
                lsock,
                lambda sock, peer, lst=lst: self._accept(sock, peer, lst),
                send_buffer=self.config.get("socket.send.buffer.bytes"),
                quotas=quotas,
            )
            acceptor.start()
        loop.add_reader(self._efd, self._on_wake)
        self._next_trim = loop.time() + TRIM_EVERY_S
        self._housekeeping.start(loop, self._tick)
        self._fetch_poll = None
        log.info("processor %d ready (pid %d)", p, os.getpid())
        tell_ready(ready_fd)
        try:
            await self._stop.wait()
        finally:
            loop.remove_reader(self._efd)
            for name, lsock in self._lsocks.items():
                self._acceptors[name].stop()
                lsock.close()
            self._housekeeping.stop()
            for conn in list(self.connections.values()):
                conn.close()
            await asyncio.sleep(0)
            self.broker.close()
            log.info(
                "processor %d stopped: %d ring-full pauses, %d large frames received into a ring "
                "record (%d given back), %d answers found by the safety drain",
                p,
                self.ring_full_pauses,
                self.slot_frames,
                self.slot_fallbacks,
                self.late_answers,
            )

    # connections ------------------------------------------------------------------------------
    def _accept(self, sock, peer, listener) -> None:
        self._next_conn_id += 1
        conn = listener_security.accept(
            self,
            self.security[listener.name],
            sock,
            peer,
            ProcessorConnection,
            TlsProcessorConnection,
            self._next_conn_id,
        )
        self.connections[conn.conn_id] = conn
        self.stats.connection_opened(listener.name)
        conn.start()

    def forget(self, conn: ProcessorConnection) -> None:
        acceptor = self._acceptors.get(conn.session.listener)
        if self.connections.pop(conn.conn_id, None) is not None:
            self.stats.connection_closed(conn.session.listener)
            if acceptor is not None:
                acceptor.connection_closed(conn.peer)
        self.stalled.discard(conn)

    # requests ---------------------------------------------------------------------------------
    def route(self, conn: ProcessorConnection, view: memoryview) -> bool:
        """Take one request frame; False if a ring is full (nothing was taken)."""
        self._housekeeping.work_arrived()
        conn.request_bytes = len(view)
        try:
            identified = header, offset, module = request_path.identify(view)
        except Refused as refused:
            conn.refuse(refused)
            return True
        api_key, version = header.api_key, header.api_version
        route = module.ROUTE
        kind = route.kind
        try:
            if kind == FETCH and replica_id(view, offset) >= 0:
                return self._route_replica_fetch(conn, view, header, offset, route.split)
            if kind in (PROCESSOR, FETCH):
                self.broker.refresh()
                frame = bytearray(view)  # small requests: decoded here, may be parked (Fetch)
                if kind == FETCH and self._fetch_poll is None:
                    # A long poll may park: ask handlers for wake-ups, and watch the table until
                    # nobody waits. The flag goes up before the Fetch reads the table: an append
                    # landing in between is then either seen by the read or followed by a wake-up
                    # (the handler publishes, then reads the flag), so the poll is only a backstop.
                    self.topo.set_processor_has_parked_fetches(self.index, True)
                    self._fetch_poll_s = FETCH_POLL_S
                    self._fetch_poll = self.loop.call_later(FETCH_POLL_S, self._poll_fetches)
                conn.dispatch_here(frame, identified)
                return True
            if self.topo.handlers == 1:
                # one handler owns everything: no need to decode the body to find its owner
                # (the handler decodes it anyway and closes the connection if it is broken)
                target = CONTROLLER_HANDLER
            elif kind == PARTITIONED:
                cut = cut_by_owner(header, view, offset, route.split, self.topo.handlers)
                if cut.parts is not None:
                    return self._push_subs(conn, header, cut.parts, env.OWNED, cut.order)
                target = cut.owners[0] if cut.owners else CONTROLLER_HANDLER
            elif kind in (GROUP, GROUPS, EVERY):
                self.broker.refresh()
                n = self.broker.offsets_partitions()
                if n is None:
                    target = CONTROLLER_HANDLER  # it creates __consumer_offsets (routing.py)
                elif kind == EVERY:
                    return self._forward_every(conn, view, header)
                else:
                    request = protocol.decode_request(api_key, version, view, offset)
                    handlers = self.topo.handlers
                    if kind == GROUP:
                        target = group_owner(request[route.group_field] or "", n, handlers)
                    else:
                        subs = split_groups(request, route.groups, lambda g: group_owner(g, n, handlers))
                        if len(subs) > 1:
                            return self._forward_subs(
                                conn, header, subs, env.WHOLE, list(request[route.groups.req_groups])
                            )
                        target = next(iter(subs), CONTROLLER_HANDLER)
            else:
                assert kind == CONTROLLER
                target = CONTROLLER_HANDLER
        except ProtocolError as exc:
            conn.close(f"api key {api_key} v{version} body does not decode: {exc}")
            return True
        return self._forward(conn, view, header, target)

    def _route_replica_fetch(self, conn, view, header, offset: int, split) -> bool:
        """A follower's Fetch: to the handlers owning its partitions (``cut_replica_fetch``)."""
        limit = self.resp_rings[0].max_record
        cap = max(min(limit, REPLICA_FETCH_MAX_BYTES) - REPLICA_FETCH_HEADROOM, limit // 2)
        subs, order = cut_replica_fetch(header, view, offset, split, self.topo.handlers, cap)
        return self._forward_subs(conn, header, subs, env.OWNED, order)

    def _forward(self, conn, view, header, h: int) -> bool:
        """The whole frame into handler ``h``'s ring; False if the ring is full."""
        ring = self.req_rings[h]
        session = self.session_of(conn)
        if env.REQUEST.size + len(session) + len(view) > ring.max_record:
            conn.close(f"request of {len(view)} bytes exceeds the ring record limit {ring.max_record}")
            return True
        seq = conn._next_seq
        head = env.REQUEST.pack(
            conn.conn_id,
            seq,
            env.WHOLE,
            header.api_key,
            header.api_version,
            len(session),
            header.correlation_id,
            conn.stamp,
        )
        res = ring.try_push(head + session if session else head, view)
        if res == FULL:
            self.stalled.add(conn)
            self.ring_full_pauses += 1
            return False
        if res == WAKE:
            self._wake(h)
        self._taken(conn, seq, header, (h,), None)
        return True

    def _forward_subs(self, conn, header, subs: dict, flag: int, join) -> bool:
        """One sub-request per handler (``subs``: handler -> decoded request, a GROUPS request's
        parts), all or nothing; ``join`` is kept to put the answers together."""
        api_key, version = header.api_key, header.api_version
        return self._push_subs(
            conn,
            header,
            {
                h: protocol.encode_request_parts(api_key, version, header.correlation_id, header.client_id, sub)
                for h, sub in subs.items()
            },
            flag,
            join,
        )

    def _push_subs(self, conn, header, subs: dict, flag: int, join) -> bool:
        """Each sub-request (handler -> chunks of a frame) into its handler's ring, all or
        nothing; ``join`` is kept to put the answers together. A split Produce's record batches
        are gathered from the frame into the rings (its parts hold views of it), never joined
        into a bytes object first. Parts of PARTITIONED requests go ``flag`` OWNED (the handler
        keeps to its own partitions even if sent more), group requests WHOLE."""
        api_key, version = header.api_key, header.api_version
        session = self.session_of(conn)
        pushes = []
        for h, parts in subs.items():
            length = env.REQUEST.size + len(session) + sum(len(p) for p in parts)
            ring = self.req_rings[h]
            if length > ring.max_record:
                conn.close(f"request part of {length} bytes exceeds the ring record limit {ring.max_record}")
                return True
            pushes.append((h, ring, parts, length))
        if not all(ring.can_push(length) for _, ring, _, length in pushes):
            self.stalled.add(conn)  # all or nothing: a split request is never half sent
            self.ring_full_pauses += 1
            return False
        seq = conn._next_seq
        head = env.REQUEST.pack(
            conn.conn_id, seq, flag, api_key, version, len(session), header.correlation_id, conn.stamp
        )
        head += session
        for h, ring, parts, _ in pushes:
            # cannot be FULL: can_push saw the room, and only this process fills the ring
            if ring.try_push_parts(head, parts) == WAKE:
                self._wake(h)
        self._taken(conn, seq, header, tuple(h for h, _, _, _ in pushes), join)
        return True

    def _forward_every(self, conn, view, header) -> bool:
        """The whole frame into every handler's ring (ListGroups), all or nothing."""
        session = self.session_of(conn)
        length = env.REQUEST.size + len(session) + len(view)
        if length > self.req_rings[0].max_record:
            conn.close(f"request of {len(view)} bytes exceeds the ring record limit {self.req_rings[0].max_record}")
            return True
        if not all(ring.can_push(length) for ring in self.req_rings):
            self.stalled.add(conn)
            self.ring_full_pauses += 1
            return False
        seq = conn._next_seq
        head = env.REQUEST.pack(
            conn.conn_id,
            seq,
            env.WHOLE,
            header.api_key,
            header.api_version,
            len(session),
            header.correlation_id,
            conn.stamp,
        )
        head += session
        for h, ring in enumerate(self.req_rings):
            if ring.try_push(head, view) == WAKE:
                self._wake(h)
        self._taken(conn, seq, header, tuple(range(len(self.req_rings))), None)
        return True

    def route_slot(self, conn, h: int, ring, slot, version: int, session: bytes = b"") -> bool:
        """A whole Produce in ``slot``, a record reserved in handler ``h``'s ring ``ring`` (room
        for the envelope head, then the frame); ``h`` owns its first partition. If ``h`` owns
        them all the record is published as it is. Otherwise each other owner first gets its
        partitions, gathered from the slot (``cut_by_owner``, as for a frame), and then
        the record is published flagged OWNED: handler ``h`` acts only on its own partitions
        of it. False, with nothing pushed anywhere and the reservation still open, when the
        frame is in doubt or another owner's ring is full: all or nothing, as a split is."""
        self._housekeeping.work_arrived()  # a timer and a counter: nothing touches the reserved ring
        frame = slot[env.REQUEST.size + len(session) :]
        conn.request_bytes = len(frame)
        try:
            header, offset = protocol.decode_request_header(frame)
            cut = cut_by_owner(header, frame, offset, route_for(PRODUCE).split, self.topo.handlers)
        except ProtocolError:
            return False  # the ordinary path decodes it again and closes with the reason
        if not cut.owners or cut.owners[0] != h:
            return False
        seq = conn._next_seq
        kind = env.WHOLE
        if cut.parts is not None:
            kind = env.OWNED
            others = []
            for oh, parts in cut.parts.items():
                if oh != h:  # h's part is the slot itself
                    length = env.REQUEST.size + len(session) + sum(len(p) for p in parts)
                    other = self.req_rings[oh]
                    if length > other.max_record or not other.can_push(length):
                        return False
                    others.append((oh, other, parts))
            head = env.REQUEST.pack(
                conn.conn_id, seq, env.OWNED, PRODUCE, version, len(session), header.correlation_id, conn.stamp
            )
            head += session
            for oh, other, parts in others:
                # cannot be FULL: can_push saw the room, and only this process fills the ring;
                # pushed before ``h`` sees its record, so no handler reads the slot meanwhile
                if other.try_push_parts(head, parts) == WAKE:
                    self._wake(oh)
        env.REQUEST.pack_into(
            slot, 0, conn.conn_id, seq, kind, PRODUCE, version, len(session), header.correlation_id, conn.stamp
        )
        if ring.publish() == WAKE:
            self._wake(h)
        self._taken(conn, seq, header, tuple(cut.owners), cut.order)
        self.slot_frames += 1
        return True

    def session_of(self, conn) -> bytes:
        """The bytes of ``conn``'s session a forwarded request carries (principal, address,
        listener: what the handler's authorization checks need); none without an authorizer."""
        if not self.authorizing:
            return b""
        cached = conn._session_bytes
        if cached is None or cached[0] != conn.session.principal:
            cached = conn._session_bytes = (conn.session.principal, env.session_bytes(conn.session))
        return cached[1]

    def _taken(self, conn, seq, header, handlers, split_request) -> None:
        conn._next_seq += 1
        # the incarnation each handler had at the push: a restart noticed later (at a tick)
        # only fails the requests pushed to the incarnation before it
        incarnation = self.topo.handler_incarnation
        self.pending[(conn.conn_id, seq)] = Pending(
            conn,
            seq,
            header.api_key,
            header.api_version,
            header.correlation_id,
            handlers,
            split_request,
            tuple(incarnation(h) for h in handlers),
            conn.request_bytes,
            conn._read_ns,
        )

    def _wake(self, h: int) -> None:
        self._wakes.wake(h)

    # responses --------------------------------------------------------------------------------
    def _on_wake(self) -> None:
        self.topo.drain(self._efd)
        self._drain()
        if len(self.broker.replica_manager.fetch_purgatory):
            self.broker.replica_manager.poll_table()  # a handler appended: maybe what a parked Fetch waits for

    def _drain(self) -> None:
        corked = []  # connections answered in this pass: each sends once, at the end
        now = monotonic_ns()
        for h, ring in enumerate(self.resp_rings):
            while (view := ring.peek()) is not None:
                self.answered += 1
                conn_id, seq, status, _, answered = env.RESPONSE.unpack_from(view)
                if status == env.FRAGMENT or self._fragments:
                    view = self._join_fragments(h, conn_id, seq, status, view)
                    if view is None:  # a piece: the rest follows in this ring
                        if ring.release():
                            self._wake(h)
                        continue
                if conn_id == self._asks_conn_id:
                    self._answered_ask(seq, status, view)
                elif (pend := self.pending.get((conn_id, seq))) is not None:
                    pend.conn.cork()
                    corked.append(pend.conn)
                    pend.answered_ns = env.unstamp(answered, now)
                    self._deliver(pend, status, view[env.RESPONSE.size :])
                if ring.release():
                    self._wake(h)
        for conn in corked:
            conn.uncork()
        if self.stalled:
            stalled, self.stalled = self.stalled, set()
            for conn in stalled:
                conn.retry()

    def _join_fragments(self, h: int, conn_id: int, seq: int, status: int, view):
        """Keep a FRAGMENT (None), or give the whole record once its last piece came: the
        pieces' payloads joined behind the last piece's header."""
        key = (h, conn_id, seq)
        if status == env.FRAGMENT:
            self._fragments.setdefault(key, []).append(bytes(view[env.RESPONSE.size :]))
            return None
        pieces = self._fragments.pop(key, None)
        if pieces is None:
            return view
        pieces.append(bytes(view[env.RESPONSE.size :]))
        return memoryview(bytes(view[: env.RESPONSE.size]) + b"".join(pieces))

    async def ask_controller(self, api_key: int, api_version: int, body: dict) -> dict:
        """This processor's own request to the controller (handler 0), its answer awaited: how its
        broker's ForwardingController reaches the controller. It goes through the same ring as
        clients' requests (waiting for room if it is full), with this processor's own
        connection id; a controller restart or ASK_TIMEOUT_S without an answer fails it."""
        self._next_ask += 1
        seq = self._next_ask
        parts = protocol.encode_request_parts(api_key, api_version, seq, f"hpbroker-processor-{self.index}", body)
        length = env.REQUEST.size + sum(len(p) for p in parts)
        ring = self.req_rings[CONTROLLER_HANDLER]
        deadline = self.loop.time() + ASK_TIMEOUT_S
        while not ring.can_push(length):
            if self.loop.time() >= deadline:
                raise ControllerError(ErrorCode.REQUEST_TIMED_OUT, "no room in the controller's ring")
            await asyncio.sleep(ASK_RETRY_S)
        fut = self.loop.create_future()
        self.asks[seq] = (fut, self.topo.handler_incarnation(CONTROLLER_HANDLER))
        stamp = env.stamp(monotonic_ns())
        head = env.REQUEST.pack(self._asks_conn_id, seq, env.ASK, api_key, api_version, 0, seq, stamp)
        if ring.try_push_parts(head, parts) == WAKE:
            self._wake(CONTROLLER_HANDLER)
        self._housekeeping.work_arrived()
        try:
            status, frame = await asyncio.wait_for(fut, max(deadline - self.loop.time(), 0))
        except asyncio.TimeoutError:
            raise ControllerError(ErrorCode.REQUEST_TIMED_OUT, "the controller did not answer in time") from None
        finally:
            self.asks.pop(seq, None)
        if status != env.FRAME:
            raise ControllerError(ErrorCode.UNKNOWN_SERVER_ERROR, "the controller could not answer")
        _, offset = protocol.decode_response_header(api_key, api_version, frame, 4)
        return protocol.decode_response(api_key, api_version, frame, offset)

    def _answered_ask(self, seq: int, status: int, view) -> None:
        entry = self.asks.get(seq)
        if entry is not None and not entry[0].done():
            entry[0].set_result((status, bytes(view[env.RESPONSE.size :])))

    def _deliver(self, pend: Pending, status: int, payload: memoryview) -> None:
        conn = pend.conn
        if status == env.CLOSE:
            self.pending.pop((conn.conn_id, pend.seq), None)
            return conn.close("the handler closed the request")
        pend.parts.append(bytes(payload) if status == env.FRAME else None)
        if len(pend.parts) < len(pend.handlers):
            return
        del self.pending[(conn.conn_id, pend.seq)]
        if conn.closed:
            return
        # request metrics: a handler counted its queue, local and remote time
        m = (pend.api_key, pend.api_version, pend.request_bytes, pend.received_ns, -1, -1, pend.answered_ns)
        if len(pend.parts) == 1:
            return conn._complete(pend.seq, [pend.parts[0]] if pend.parts[0] is not None else [], m)
        frames = [f for f in pend.parts if f is not None]
        if not frames:
            return conn._complete(pend.seq, [], m)
        request = pend.request
        if isinstance(request, produce_split.Order):
            joined = produce_split.join(request, pend.api_version, pend.correlation_id, frames)
            if joined is not None:
                return conn._complete(pend.seq, joined, m)
            request = request.as_request()  # not as expected: the codecs will say why
        bodies = []
        for f in frames:
            _, offset = protocol.decode_response_header(pend.api_key, pend.api_version, f, 4)
            bodies.append(protocol.decode_response(pend.api_key, pend.api_version, f, offset))
        route = route_for(pend.api_key)
        if route.kind == GROUPS:
            joined = join_group_answers(request, route.groups, bodies)
        elif route.kind == EVERY:
            joined = join_every(bodies)
        else:
            joined = join_responses(request, route.split, bodies)
        conn._complete(
            pend.seq, protocol.encode_response_parts(pend.api_key, pend.api_version, pend.correlation_id, joined), m
        )

    # timers -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        """Safety drain, handler restarts, and the parked-Fetch poller's start."""
        if any(ring.peek() is not None for ring in self.resp_rings):
            # an answer before its wake-up: usually one still in flight (handlers write eventfds
            # at the end of their loop pass), else a lost one that waited for this tick
            self.late_answers += 1
        self._drain()
        for h in range(self.topo.handlers):
            inc = self.topo.handler_incarnation(h)
            if inc != self._incarnations[h]:
                self._incarnations[h] = inc
                for key in [k for k in self._fragments if k[0] == h]:
                    del self._fragments[key]  # the pieces of an answer its predecessor never finished
                self._handler_restarted(h)
        if self._fetch_poll is None and len(self.broker.replica_manager.fetch_purgatory):
            self._poll_fetches()
        now = self.loop.time()
        if now >= self._next_gauges:
            self._next_gauges = now + GAUGES_EVERY_S
            gauges.update_idle(self.stats, self._idle, Gauge.NETWORK_IDLE_PPM)
            self.stats.set_gauge(Gauge.PURGATORY_FETCH, len(self.broker.replica_manager.fetch_purgatory))
        if now >= self._next_trim:
            self._next_trim = now + TRIM_EVERY_S
            for conn in list(self.connections.values()):
                conn.trim(now)
        scheduling.tick()
        waiting = bool(self.pending) or bool(self.stalled) or bool(self.asks)
        self._housekeeping.again(self.answered, waiting)

    def _handler_restarted(self, h: int) -> None:
        """Fail (close the connections of) the requests pushed to handler ``h``'s previous
        incarnations: the new one discarded its rings, so they will never be answered. Those
        pushed since it bumped its incarnation are its own and will be answered."""
        current = self._incarnations[h]
        for key, pend in list(self.pending.items()):
            if h in pend.handlers and pend.incarnations[pend.handlers.index(h)] != current:
                del self.pending[key]
                pend.conn.close(f"handler {h} restarted while answering")
        for fut, incarnation in list(self.asks.values()):
            if h == CONTROLLER_HANDLER and incarnation != current and not fut.done():
                fut.set_exception(ControllerError(ErrorCode.NOT_CONTROLLER, "the controller restarted while answering"))

    def _poll_fetches(self) -> None:
        """While Fetches are parked: tell the handlers (they wake us after appending) and poll
        the table as a fallback (a wake-up lost to a race costs at most FETCH_POLL_S)."""
        self._fetch_poll = None
        parked = bool(len(self.broker.replica_manager.fetch_purgatory))
        self.topo.set_processor_has_parked_fetches(self.index, parked)
        if not parked:
            return
        self.broker.replica_manager.poll_table()
        # backstop only (see route): back off while the same Fetches stay parked, so an idle
        # consumer's long polls cost a few wake-ups a second, not 100
        self._fetch_poll_s = min(self._fetch_poll_s * 2, FETCH_POLL_MAX_S)
        self._fetch_poll = self.loop.call_later(self._fetch_poll_s, self._poll_fetches)
