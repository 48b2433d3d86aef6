"""The supervisor: the main process of the multi-process topology (DESIGN.md section 2).

It creates the shared segments and eventfds (server/multiproc/topology.py), reserves each listener's port,
forks the handler processes (they recover their partitions from disk), then the processors (they
bind the same ports with SO_REUSEPORT), and logs "listening on" once every child reported ready.

With ``metrics.port`` set, a metrics process (server/multiproc/metrics_process.py) is forked
last: it serves the endpoint from the statistics every child counts into.

Then it only watches, asleep until a signal arrives (SIGCHLD, SIGTERM and SIGINT reach it
through ``signal.set_wakeup_fd``; a one-second timeout is only a backstop): a child that dies
for any reason (SIGKILL, a crash) is forked again (a handler then bumps its incarnation word so
processors know); a crash loop is slowed down, never given up.

In a cluster, handler 0 may take as long as ZooKeeper needs to answer before it is ready; once
the processors listen the supervisor tells it to register, and logs "listening on" only when it
serves (a duplicate broker.id: handler 0 refuses, and so does the broker, exit code 1).

SIGTERM / SIGINT: in a cluster, first a controlled shutdown through handler 0 while everything
still serves; then processors stop (no new requests), then handlers (logs closed cleanly
with the clean-shutdown marker), anything still alive after the grace period is killed, and the
shared-memory segments are unlinked. In a cluster the children leave a SIGTERM sent to the whole
process group to the supervisor, which stops them in that order. Children ask the kernel for SIGTERM if the supervisor dies
(PR_SET_PDEATHSIG), so a killed supervisor leaves no orphan; its segments are removed by the
next start (their names carry its pid).

Who may touch: the main thread of the main process; no event loop, no threads, so fork is safe.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import socket
import time

from hpbroker.server import listeners, scheduling
from hpbroker.server.broker import advertised_node
from hpbroker.server.listeners import log_listeners
from hpbroker.server.multiproc.topology import (
    CLUSTER_REFUSED,
    CLUSTER_REGISTER,
    CLUSTER_SERVING,
    CLUSTER_SHUT_DOWN,
    CLUSTER_SHUTDOWN,
    SharedMemoryTooSmall,
    Topology,
    remove_stale_segments,
)

log = logging.getLogger("hpbroker")

HANDLER, PROCESSOR, METRICS = "handler", "processor", "metrics"
READY_TIMEOUT_S = 120.0
PROCESSOR_GRACE_S = 10.0
HANDLER_GRACE_S = 30.0
WATCH_BACKSTOP_S = 1.0
PHASE_POLL_S = 0.05
CONTROLLED_SHUTDOWN_ATTEMPT_S = 35.0  # one attempt: the controller's answer, within its request timeout  # the watch loop sleeps until a signal; this only bounds a missed one
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the supervisor's SIGTERM path still works
        pass


def _name_process(name: str) -> None:
    """Show a child's role in ps/top (``hpb-p0`` = processor 0, ``hpb-h1`` = handler 1): every
    child otherwise shows the supervisor's name. /proc/self/comm names the calling thread, which
    here is the child's only one, so ps shows it as the process's name."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(name[:15])
    except OSError:  # not Linux
        pass


class Supervisor:
    def __init__(self, config, processors: int, handlers: int, event_loop: str = "asyncio"):
        self.config = config
        self.event_loop = event_loop
        self.processors, self.handlers = processors, handlers
        self.children: dict[int, tuple[str, int, float]] = {}
        self._stopping = False
        self._pid = os.getpid()
        self._reserved: list[socket.socket] = []
        self.cluster = bool(config.get("zookeeper.connect"))

    def run(self) -> int:
        for path in remove_stale_segments():
            log.warning("removed shared memory left by a killed broker: %s", path)
        # reserve each listener's port (and learn it when 0 was asked): bound, never listening,
        # so the kernel hands connections only to the processors' listening sockets
        configured = listeners.from_config(self.config)
        self._reserved = []
        ports = {}
        try:
            for lst in configured.listeners:
                sock = socket.socket(socket.AF_INET6 if ":" in lst.host else socket.AF_INET, socket.SOCK_STREAM)
                self._reserved.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind((lst.host, lst.port))
                ports[lst.name] = sock.getsockname()[1]
        except BaseException:
            self._close_reserved()
            raise
        self.listeners = configured.bound(ports)
        self.node = advertised_node(self.config, self.listeners)
        try:
            self.topo = Topology(self.processors, self.handlers)
        except SharedMemoryTooSmall as exc:
            log.error("cannot start: %s", exc)
            self._close_reserved()
            return 2
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        # A child's death or a stop request writes a byte here (at the signal itself, before any
        # Python runs), so the watch loop sleeps instead of polling waitpid 20 times a second.
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, self._on_signal_wake)
        code = 0
        try:
            ready = [self._start(HANDLER, h) for h in range(self.handlers)]
            # in a cluster, handler 0 is ready once ZooKeeper answers: however long that takes
            if self._await_ready(ready, None if self.cluster else READY_TIMEOUT_S):
                ready = [self._start(PROCESSOR, p) for p in range(self.processors)]
                if self.config.get("metrics.port"):
                    ready.append(self._start(METRICS, 0))
                if self._await_ready(ready) and (not self.cluster or self._await_cluster()):
                    log_listeners(self.listeners)
                    first = self.listeners.listeners[0]
                    log.info(
                        "hpbroker listening on %s:%d (node %d, log.dirs %s, %d processors, %d handlers, "
                        "%s loop, %s scheduling)",
                        first.host,
                        first.port,
                        self.node.node_id,
                        self.config.get("log.dirs"),
                        self.processors,
                        self.handlers,
                        self.event_loop,
                        scheduling.in_force(),
                    )
                    self._watch()
                elif self.topo.cluster_phase == CLUSTER_REFUSED:
                    code = 1
        finally:
            self._shutdown()
        return code

    def _close_reserved(self) -> None:
        for sock in self._reserved:
            sock.close()
        self._reserved = []

    def _on_signal(self, signum, frame) -> None:
        self._stopping = True

    def _on_signal_wake(self, signum, frame) -> None:
        pass  # SIGCHLD needs a handler to reach the wake-up fd; the watch loop reaps

    def _sleep_until_signal(self, timeout: float) -> None:
        select.select([self._wake_r], [], [], timeout)
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    # children ---------------------------------------------------------------------------------
    def _start(self, role: str, index: int) -> int:
        if role == PROCESSOR:
            self.topo.bump_processor_incarnation(index)
        # a handler bumps its own incarnation once it has discarded its request rings: a
        # processor that reacts to the bump must not send requests the new handler discards
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            self._child(role, index, w)  # never returns
        os.close(w)
        self.children[pid] = (role, index, time.monotonic())
        return r

    def _child(self, role: str, index: int, ready_w: int) -> None:
        code = 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C reaches the group: the supervisor decides
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)  # the event loop installs its own
            os.close(self._wake_r)
            os.close(self._wake_w)
            _die_with_parent()
            if os.getppid() != self._pid:
                os._exit(1)
            self._close_reserved()
            _name_process(f"hpb-{role[0]}{index}")
            from hpbroker.server import eventloop

            if role == METRICS:
                from hpbroker.server.multiproc.metrics_process import MetricsProcess

                console = self.listeners.console_listener()
                MetricsProcess(self.topo, self.config, self.node, console.host, console.port).run(ready_w)
                code = 0
                return
            if role == HANDLER:
                from hpbroker.server.multiproc.handler_process import HandlerProcess

                child = HandlerProcess(self.topo, index, self.config, self.node)
            else:
                from hpbroker.server.multiproc.processor import ProcessorServer

                child = ProcessorServer(self.topo, index, self.config, self.node, self.listeners)
            eventloop.run(child.run(ready_w), self.event_loop)
            code = 0
        except BaseException:
            log.exception("%s %d failed", role, index)
        finally:
            logging.shutdown()
            os._exit(code)

    def _await_cluster(self) -> bool:
        """In a cluster: the processors listen, so handler 0 may register; True once it says it
        serves (the controller sent it the cluster), False if it refused to start (a duplicate
        broker.id: it logged why) or a child died meanwhile."""
        topo = self.topo
        topo.set_cluster_phase(CLUSTER_REGISTER)
        topo.wake(topo.handler_efds[0])
        while not self._stopping:
            phase = topo.cluster_phase
            if phase == CLUSTER_SERVING:
                return True
            if phase == CLUSTER_REFUSED:
                return False
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid:
                role, index, _ = self.children.pop(pid, ("?", -1, 0.0))
                log.error("%s %d exited while the broker joined the cluster", role, index)
                return False
            self._sleep_until_signal(PHASE_POLL_S)
        return False

    def _controlled_shutdown(self) -> None:
        """In a cluster, before the processors stop: handler 0 asks the controller to move this
        broker's leaderships away (the controller's requests still reach it), at most as long as
        controlled.shutdown.* allow."""
        topo = self.topo
        if (
            not self.cluster
            or topo.cluster_phase != CLUSTER_SERVING
            or not self.config.get("controlled.shutdown.enable")
        ):
            return
        retries = int(self.config.get("controlled.shutdown.max.retries"))
        backoff = int(self.config.get("controlled.shutdown.retry.backoff.ms")) / 1000
        deadline = time.monotonic() + retries * (backoff + CONTROLLED_SHUTDOWN_ATTEMPT_S)
        topo.set_cluster_phase(CLUSTER_SHUTDOWN)
        topo.wake(topo.handler_efds[0])
        handler0 = next((pid for pid, (r, i, _) in self.children.items() if r == HANDLER and i == 0), None)
        while topo.cluster_phase != CLUSTER_SHUT_DOWN and time.monotonic() < deadline:
            if handler0 is None or os.waitpid(handler0, os.WNOHANG)[0]:
                return
            time.sleep(PHASE_POLL_S)

    def _await_ready(self, fds: list[int], timeout: float | None = READY_TIMEOUT_S) -> bool:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        waiting = set(fds)
        try:
            while waiting and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.error("children did not start within %.0fs", timeout)
                    return False
                readable, _, _ = select.select(list(waiting), [], [], min(left, 0.2))
                for fd in readable:
                    if not os.read(fd, 1):
                        log.error("a child exited during start-up")
                        return False
                    waiting.discard(fd)
            return not waiting
        finally:
            for fd in fds:
                os.close(fd)

    def _watch(self) -> None:
        backoff = 0.0
        while not self._stopping:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, status = 0, 0
            if pid == 0:
                self._sleep_until_signal(WATCH_BACKSTOP_S)
                continue
            entry = self.children.pop(pid, None)
            if entry is None or self._stopping:
                continue
            role, index, started = entry
            how = (
                f"signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"exit code {os.waitstatus_to_exitcode(status)}"
            )
            log.warning("%s %d (pid %d) died with %s; restarting it", role, index, pid, how)
            backoff = min(max(backoff * 2, 0.1), 5.0) if time.monotonic() - started < 2.0 else 0.0
            if backoff:
                time.sleep(backoff)
            os.close(self._start(role, index))

    def _stop_role(self, role: str, grace: float) -> None:
        pids = [pid for pid, (r, _, _) in self.children.items() if r == role]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            for pid in list(pids):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    pids.remove(pid)
                    self.children.pop(pid, None)
            if pids:
                time.sleep(0.02)
        for pid in pids:
            log.warning("%s pid %d did not stop within %.0fs; killing it", role, pid, grace)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.children.pop(pid, None)

    def _shutdown(self) -> None:
        self._stopping = True
        self._controlled_shutdown()
        self.topo.order_stop()
        self._stop_role(METRICS, PROCESSOR_GRACE_S)
        self._stop_role(PROCESSOR, PROCESSOR_GRACE_S)
        self._stop_role(HANDLER, HANDLER_GRACE_S)
        self.topo.unlink()
        self._close_reserved()
        log.info("hpbroker stopped cleanly")
