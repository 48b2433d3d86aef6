"""How the kernel schedules the broker's processes: normal, SCHED_BATCH, or batch while busy.

    hpbroker --scheduling adaptive|normal|batch ...     # or HPBROKER_SCHEDULING; default adaptive

A broker process sleeps in epoll until a socket, an eventfd or a timer wakes it. Under the
normal policy (SCHED_OTHER) a woken task may preempt whatever runs on the core it wakes on;
under SCHED_BATCH it never does (sched(7): the kernel treats it as CPU-bound and disfavours it
in wake-up decisions): it runs at once on an idle core, and otherwise when the running task's
time slice ends. Nothing else changes: same priority (nice), same share of the CPU.

What batch gives (tuning.md, "Scheduling"): on a host whose cores the clients share, every
wake-up that preempts a client thread costs both sides a context switch and the cache they
had; a woken broker that waits for the slice instead finds more work per wake-up (several
frames, several answers), so the multi-process broker spends less CPU per GB in. What it
costs: whenever every core is busy, a request waits up to one time slice, which shows in the
end-to-end p99 of a light load.

adaptive (the default) keeps both: each processor and handler runs under batch while it moves
bytes in bulk (BULK_BYTES_S) and under normal otherwise, so a bulk load gets batch's CPU and a
light one normal's latency. The in-process mode stays under normal: its one process, behind
the producer's threads under batch, produces less. A process's tick backs off to
a second while it is idle; the first request of a new load brings it back to the busy period
and starts the measurement there (``restart_window``), so a bulk load that follows a quiet
spell runs under batch from its first 50 ms on, not from a tick up to a second away.

The policy is set once in the first process, before anything forks: processors, handlers and a
restarted child inherit it (adaptive: each then decides for itself at its periodic tick). Where
the platform has no SCHED_BATCH the broker says so and runs under the normal policy.
"""

from __future__ import annotations

import logging
import os
import time

from hpbroker import environment

POLICIES = ("adaptive", "normal", "batch")
ENV = "HPBROKER_SCHEDULING"

# adaptive: each process looks, at its periodic tick, at how many bytes it moved since the last
# look (``io_bytes``: received from sockets, appended, sent with sendfile); at or above
# BULK_BYTES_S it runs under batch, at or below LIGHT_BYTES_S under normal, in between it keeps
# what it has. Bytes, not CPU: a light acks=all load of small records can keep a processor as
# busy as a bulk load keeps one under batch, with a hundredth of the bytes.
BULK_BYTES_S = 64e6
LIGHT_BYTES_S = 16e6
MIN_CHECK_S = 0.04  # a shorter interval says too little about the load

# (policy now, load since the last look) -> policy next
NEXT = {
    ("normal", "bulk"): "batch",
    ("normal", "between"): "normal",
    ("normal", "light"): "normal",
    ("batch", "bulk"): "batch",
    ("batch", "between"): "batch",
    ("batch", "light"): "normal",
}

log = logging.getLogger(__name__)


class SchedulingError(ValueError):
    pass


def default_policy() -> str:
    return environment.value(ENV).strip().lower() or "adaptive"


def check(name: str) -> str:
    name = name.strip().lower()
    if name not in POLICIES:
        raise SchedulingError(f"unknown scheduling policy {name!r} (choose from {', '.join(POLICIES)})")
    return name


_mode = "normal"  # what apply() was asked for; forked children inherit it
_adaptive: Adaptive | None = None  # this process's, made at its first tick


def for_topology(name: str, handlers: int) -> str:
    """The policy a broker of ``handlers`` handler processes runs: adaptive means normal for the
    in-process mode (``handlers`` 0), whose one process produces less under batch (tuning.md)."""
    return "normal" if name == "adaptive" and handlers == 0 else name


def apply(name: str) -> str:
    """Put this process (and so every process it forks later) under policy ``name``
    ("adaptive": normal to begin with, then each process by its own load, at ``tick()``);
    returns the policy it runs under afterwards (``current()``)."""
    global _mode, _adaptive
    _mode, _adaptive = check(name), None
    return switch("normal" if _mode == "adaptive" else _mode)


def tick() -> None:
    """Called from the periodic timer of each processor and handler; does something only in
    adaptive mode (never the in-process mode's: ``for_topology``)."""
    global _adaptive
    if _mode != "adaptive":
        return
    if _adaptive is None or _adaptive.pid != os.getpid():  # a forked child starts its own
        _adaptive = Adaptive()
    _adaptive.check()


def restart_window() -> None:
    """Start this process's next look at its load now: called when work arrives after a quiet
    spell (its tick re-armed, server/multiproc/wakeups.py SafetyTick), so that the first tick of a new
    bulk load measures that load over one busy period instead of diluting it over the idle
    second before, and switches at once."""
    if _mode == "adaptive" and _adaptive is not None and _adaptive.pid == os.getpid():
        _adaptive.restart()


# Bytes received from client sockets by this process (server/connection.py and the processor's
# large-frame path add to it): recv is not counted in /proc/self/io, pwrite and sendfile are.
received = 0


def io_bytes() -> int:
    """Bytes this process has moved: received from sockets, plus what /proc/self/io counts
    (rchar + wchar: pwrite, sendfile, file reads; nothing where there is no such file)."""
    try:
        with open("/proc/self/io", "rb") as f:
            head = f.read(64).split(b"\n", 2)
        return received + int(head[0].split()[1]) + int(head[1].split()[1])
    except (OSError, IndexError, ValueError):
        return received


class Adaptive:
    """Batch while this process moves bytes in bulk, normal while it does not (the NEXT table)."""

    def __init__(self, *, moved=io_bytes, clock=time.monotonic, switch_to=None):
        self.pid = os.getpid()
        self.policy = current() if switch_to is None else "normal"
        self._moved, self._clock = moved, clock
        self._switch = switch_to or switch
        self._t0, self._b0 = clock(), moved()
        self.switches = 0
        self.refused = False  # the kernel refused a switch once: stop trying (and logging)

    def restart(self) -> None:
        self._t0, self._b0 = self._clock(), self._moved()

    def check(self) -> str:
        if self.refused:
            return self.policy
        now = self._clock()
        elapsed = now - self._t0
        if elapsed < MIN_CHECK_S:
            return self.policy
        moved = self._moved()
        rate = (moved - self._b0) / elapsed
        self._t0, self._b0 = now, moved
        load = "bulk" if rate >= BULK_BYTES_S else "light" if rate <= LIGHT_BYTES_S else "between"
        wanted = NEXT.get((self.policy, load), "normal")
        if wanted != self.policy:
            self.policy = self._switch(wanted)
            self.switches += 1
            self.refused = self.policy != wanted
        return self.policy


def switch(name: str) -> str:
    """This process under "batch" or "normal" now; returns what it runs under afterwards."""
    policy = getattr(os, "SCHED_BATCH" if name == "batch" else "SCHED_OTHER", None)
    if policy is None or not hasattr(os, "sched_setscheduler"):
        log.warning("this platform has no %s scheduling policy: running under its default", name)
        return current()
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError as exc:  # e.g. a seccomp profile that forbids it
        log.warning("cannot switch to %s scheduling (%s): running under %s", name, exc, current())
    return current()


def in_force() -> str:
    """For the start-up log line: "adaptive", or the policy this process runs under."""
    return "adaptive" if _mode == "adaptive" else current()


def current(pid: int = 0) -> str:
    """'batch', 'normal' or another policy's name, for process ``pid`` (0: this one)."""
    if not hasattr(os, "sched_getscheduler"):
        return "normal"
    policy = os.sched_getscheduler(pid)
    names = {
        getattr(os, "SCHED_BATCH", None): "batch",
        getattr(os, "SCHED_OTHER", None): "normal",
        getattr(os, "SCHED_IDLE", None): "idle",
        getattr(os, "SCHED_FIFO", None): "fifo",
        getattr(os, "SCHED_RR", None): "rr",
    }
    return names.get(policy, str(policy))
