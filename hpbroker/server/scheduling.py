"""How the kernel schedules the broker's processes: the normal policy, or SCHED_BATCH on request.

    hpbroker --scheduling normal|batch ...     # or HPBROKER_SCHEDULING; default normal

A broker process sleeps in epoll until a socket, an eventfd or a timer wakes it. Under the
normal policy (SCHED_OTHER) a woken task may preempt whatever runs on the core it wakes on;
under SCHED_BATCH it never does (sched(7): the kernel treats it as CPU-bound and disfavours it
in wake-up decisions): it runs at once on an idle core, and otherwise when the running task's
time slice ends. Nothing else changes: same priority (nice), same share of the CPU.

What batch gives (tuning.md, "Wake-up preemption: SCHED_BATCH"): on a host whose cores the
clients share, every wake-up that preempts a client thread costs both sides a context switch
and the cache they had; a woken broker that waits for the slice instead finds more work per
wake-up (several frames, several answers). Measured with confluent-kafka producers on the same
two cores: the multi-process broker's CPU per GB in fell 20-33% and its produce throughput rose
by up to 8%; in-process, CPU per GB fell 11-14% and throughput 4-7%.

Why it is not the default: whenever every core is busy (clients, a neighbour), a request waits
up to one time slice before the broker looks at it. Produce-to-consume p99 at 2,000 records/s
went from 3.4 to 4.4 ms in a run beside another hpbroker, and was 7.6-8.3 ms in three rounds of
five in compare.py's run beside Tansu (2.5-4.9 ms under the normal policy), past the 5 ms a
light-load Kafka user expects. Batch is for a host where CPU and throughput matter more than
the tail latency of a light load.

The policy is set once in the first process, before anything forks: processors, handlers and a
restarted child inherit it. Where the platform has no SCHED_BATCH the broker says so and runs
under the normal policy.
"""
from __future__ import annotations

import logging
import os

POLICIES = ("normal", "batch")
ENV = "HPBROKER_SCHEDULING"

log = logging.getLogger(__name__)


class SchedulingError(ValueError):
    pass


def default_policy() -> str:
    return os.environ.get(ENV, "normal").strip().lower() or "normal"


def check(name: str) -> str:
    name = name.strip().lower()
    if name not in POLICIES:
        raise SchedulingError(f"unknown scheduling policy {name!r} (choose from {', '.join(POLICIES)})")
    return name


def apply(name: str) -> str:
    """Put this process (and so every process it forks later) under policy ``name``; returns
    the policy it runs under afterwards (``current()``)."""
    name = check(name)
    policy = getattr(os, "SCHED_BATCH" if name == "batch" else "SCHED_OTHER", None)
    if policy is None or not hasattr(os, "sched_setscheduler"):
        log.warning("this platform has no %s scheduling policy: running under its default", name)
        return current()
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError as exc:  # e.g. a seccomp profile that forbids it
        log.warning("cannot switch to %s scheduling (%s): running under %s", name, exc, current())
    return current()


def current(pid: int = 0) -> str:
    """'batch', 'normal' or another policy's name, for process ``pid`` (0: this one)."""
    if not hasattr(os, "sched_getscheduler"):
        return "normal"
    policy = os.sched_getscheduler(pid)
    names = {getattr(os, "SCHED_BATCH", None): "batch", getattr(os, "SCHED_OTHER", None): "normal",
             getattr(os, "SCHED_IDLE", None): "idle", getattr(os, "SCHED_FIFO", None): "fifo",
             getattr(os, "SCHED_RR", None): "rr"}
    return names.get(policy, str(policy))
