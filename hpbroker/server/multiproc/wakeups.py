"""How the processes of the multi-process topology wake each other and themselves.

- ``wake`` / ``drain``: one process wakes another through its eventfd;
- ``tell_ready``: a child tells the supervisor it serves (one byte on a pipe);
- ``WakeBatcher``: eventfd writes to peers, once per event-loop pass;
- ``SafetyPeriod`` / ``SafetyTick``: each processor's and handler's periodic tick (the safety
  drain of a lost wake-up, restarts, parked Fetches, the scheduling policy's look), short while
  work flows and backing off to a long period while idle, so an idle broker does not wake its
  processes a hundred times a second.
"""

from __future__ import annotations

import os

from hpbroker.server import scheduling


def wake(efd: int) -> None:
    """Wake the process reading ``efd`` (an eventfd: a counter, many writers, one reader)."""
    try:
        os.eventfd_write(efd, 1)
    except BlockingIOError:  # counter saturated: the reader is awake anyway
        pass


def drain(efd: int) -> None:
    """Reset our own eventfd after a wake-up."""
    try:
        os.eventfd_read(efd)
    except BlockingIOError:
        pass


def tell_ready(ready_fd: int | None) -> None:
    """A child process, once it serves: one byte on the pipe the supervisor waits on at start-up
    (a restarted child's supervisor no longer reads it, hence the ignored error)."""
    if ready_fd is None:
        return
    try:
        os.write(ready_fd, b"r")
    except OSError:
        pass
    os.close(ready_fd)


class WakeBatcher:
    """Wake peer processes once per event-loop pass, not once per record: an eventfd write that
    wakes a sleeping process costs several microseconds, for a burst of records as for one.
    ``wake(i)`` schedules a flush at the end of this pass; ``add(i)`` only records,
    for callers that flush themselves.

    Who may touch: the event loop of the process that owns it.
    """

    def __init__(self, loop, efds):
        self.loop = loop
        self.efds = efds
        self.pending: set[int] = set()
        self.scheduled = False

    def add(self, i: int) -> None:
        self.pending.add(i)

    def wake(self, i: int) -> None:
        self.pending.add(i)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.scheduled = False
        efds = self.efds
        while self.pending:
            wake(efds[self.pending.pop()])


class SafetyPeriod:
    """The period of a child's safety tick (the drain that catches an answer or request whose
    wake-up never came, and the checks that ride on it): ``busy_s`` while work flows or waits,
    doubling up to ``idle_s`` after each tick that found the process idle. Every wake-up costs
    a sleeping process a context switch and cold caches, so a fixed 20 Hz tick in every child
    would keep an idle broker spending CPU on nothing; the wake-up protocol itself never
    depends on the tick.

    ``next(activity, waiting)``: ``activity`` is a counter the owner bumps per request or
    answer it handled; ``waiting`` is true while something is in flight (then a lost wake-up
    must still cost at most ``busy_s``). Returns the delay to the next tick. When work arrives
    while the period is backed off, the tick is re-armed (``backed_off``, ``snap_back``;
    SafetyTick does both).

    Who may touch: the event loop of the process that owns it.
    """

    def __init__(self, busy_s: float, idle_s: float):
        self.busy_s, self.idle_s = busy_s, idle_s
        self.period = busy_s
        self._seen = -1

    def next(self, activity: int, waiting: bool) -> float:
        if waiting or activity != self._seen:
            self.period = self.busy_s
        else:
            self.period = min(self.period * 2, self.idle_s)
        self._seen = activity
        return self.period

    def backed_off(self) -> bool:
        """Is the next tick further away than ``busy_s``? Then work that arrives now should
        bring it closer (``snap_back``): under a new load a lost wake-up must cost at most
        ``busy_s``, and adaptive scheduling (server/scheduling.py) should see the load within
        one busy period, not after the idle second the last tick chose."""
        return self.period > self.busy_s

    def snap_back(self) -> float:
        """The owner re-arms its tick ``busy_s`` from now; returns that delay."""
        self.period = self.busy_s
        return self.period


class SafetyTick:
    """A child's safety tick on its event loop: ``callback`` runs after SafetyPeriod's delay,
    again and again (the callback ends with ``again``), and comes back to the busy period at
    once when work arrives while it has backed off (``work_arrived``). Under a new load a lost
    wake-up then costs at most ``busy_s`` again, and adaptive scheduling (server/scheduling.py,
    which looks at the load at this tick) measures the new load from its start, not diluted
    over the idle second before it.

    Who may touch: the event loop of the process that owns it.
    """

    def __init__(self, busy_s: float, idle_s: float):
        self.period = SafetyPeriod(busy_s, idle_s)
        self.loop = self.callback = self._handle = None

    def start(self, loop, callback) -> None:
        self.loop, self.callback = loop, callback
        self._handle = loop.call_later(self.period.busy_s, callback)

    def again(self, activity: int, waiting: bool) -> None:
        """At the end of each run of the callback: the next run after SafetyPeriod's delay
        (one timer, even if work arrived and brought it closer during this run)."""
        self._handle.cancel()
        self._handle = self.loop.call_later(self.period.next(activity, waiting), self.callback)

    def work_arrived(self) -> None:
        """A request (processor) or a wake-up (handler): cheap unless the tick had backed off."""
        if self.period.backed_off() and self._handle is not None:
            self._handle.cancel()
            scheduling.restart_window()
            self._handle = self.loop.call_later(self.period.snap_back(), self.callback)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
