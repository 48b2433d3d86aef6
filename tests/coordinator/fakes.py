"""A hand-driven clock for the coordinator's timers: tests move time, due callbacks run."""

from __future__ import annotations

import heapq
import itertools


class FakeHandle:
    def __init__(self, when, callback):
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class FakeTimers:
    def __init__(self):
        self.now = 0.0
        self._heap = []
        self._seq = itertools.count()

    def call_later(self, delay, callback):
        h = FakeHandle(self.now + delay, callback)
        heapq.heappush(self._heap, (h.when, next(self._seq), h))
        return h

    def advance(self, seconds):
        end = self.now + seconds
        while self._heap and self._heap[0][0] <= end:
            when, _, h = heapq.heappop(self._heap)
            self.now = when
            if not h.cancelled:
                h.callback()
        self.now = end
