"""Work after a quiet spell brings a child's safety tick back from its idle period to the busy
one at once (wakeups.SafetyTick): in a processor at the first request, on either path a frame
takes (``route``, or ``route_slot`` for a large Produce received into a ring record), and in a
handler at the first wake-up. Adaptive scheduling then measures the new load from there."""

from hpbroker import protocol
from hpbroker.server import scheduling
from hpbroker.server.multiproc import handler_process, processor
from hpbroker.server.multiproc.handler_process import HandlerProcess
from hpbroker.server.multiproc.wakeups import SafetyTick
from tests.server.multiproc.processor_fakes import (
    RegistrationsOnly,
    connection,
    drain,
    large_produce,
    partitions,
    processor_server,
)


class Handle:
    def __init__(self, delay):
        self.delay, self.cancelled = delay, False

    def cancel(self):
        self.cancelled = True


class Timers(RegistrationsOnly):
    """Records call_later instead of running anything."""

    def __init__(self):
        self.armed = []

    def call_later(self, delay, callback):
        self.armed.append(Handle(delay))
        return self.armed[-1]

    def live(self):
        return [h.delay for h in self.armed if not h.cancelled]


def _quiet(tick: SafetyTick, activity=0) -> None:
    for _ in range(6):  # runs that found nothing new: 0.05, 0.1, ... up to the idle period
        tick.again(activity, False)
    assert tick.period.backed_off()


def test_a_safety_tick_comes_back_when_work_follows_a_quiet_spell(monkeypatch):
    restarts = []
    monkeypatch.setattr(scheduling, "restart_window", lambda: restarts.append(1))
    loop, tick = Timers(), SafetyTick(0.05, 1.0)
    tick.start(loop, lambda: None)
    assert loop.live() == [0.05]
    tick.work_arrived()  # under load: nothing to do
    assert loop.live() == [0.05] and restarts == []
    _quiet(tick)
    assert loop.live() == [1.0]  # one timer at a time, the latest period
    tick.work_arrived()
    assert loop.live() == [0.05] and restarts == [1]
    tick.work_arrived()  # near already
    assert len(loop.armed) == 8 and restarts == [1]
    tick.work_arrived()
    tick.again(1, False)  # the run that follows, with new activity: still one timer
    assert loop.live() == [0.05]
    tick.stop()
    assert loop.live() == []


def _quiet_processor():
    server = processor_server(1 << 20)
    server.loop = Timers()
    server._housekeeping.start(server.loop, server._tick)
    _quiet(server._housekeeping)
    return server


def test_a_processor_rearms_its_tick_at_the_first_request_after_a_quiet_spell():
    server = _quiet_processor()
    conn, peer = connection(server)
    body = {
        "acks": -1,
        "timeout_ms": 30000,
        "transactional_id": None,
        "topic_data": [
            {"name": "orders", "partition_data": [{"index": partitions("orders", True)[0], "records": b"r" * 100}]}
        ],
    }
    frame = protocol.encode_request(0, 8, 42, "client-a", body)  # small: ``route``
    peer.sendall(frame)
    conn._on_readable()
    assert len(drain(server.req_rings[0])) == 1 and server.slot_frames == 0
    assert server.loop.live() == [processor.HOUSEKEEPING_S]


def test_a_processor_rearms_its_tick_for_a_large_produce_received_into_a_ring_record():
    server = _quiet_processor()
    conn, peer = connection(server)
    _, frame = large_produce(partitions("orders", same_owner=True))
    peer.sendall(frame)
    conn._on_readable()
    assert server.slot_frames == 1  # ``route_slot``, not ``route``
    assert server.loop.live() == [processor.HOUSEKEEPING_S]


class QuietHandler:
    """What ``HandlerProcess._on_wake`` touches, and nothing else."""

    def __init__(self):
        self.loop = Timers()
        self._timer = SafetyTick(handler_process.SAFETY_DRAIN_S, handler_process.IDLE_DRAIN_S)
        self._timer.start(self.loop, lambda: None)
        self.topo = self
        self._efd = -1
        self.drained = 0

    def drain(self, efd):
        pass

    def _check_cluster_phase(self):
        pass  # a single node: no cluster phase to look at

    def _drain(self):
        self.drained += 1

    _on_wake = HandlerProcess._on_wake


def test_a_handler_rearms_its_tick_when_woken_after_a_quiet_spell():
    h = QuietHandler()
    h._on_wake()  # under load: the tick stays where it is
    assert h.drained == 1 and h.loop.live() == [handler_process.SAFETY_DRAIN_S] and len(h.loop.armed) == 1
    _quiet(h._timer)
    h._on_wake()
    assert h.drained == 2 and h.loop.live() == [handler_process.SAFETY_DRAIN_S]


def test_the_restarted_window_measures_the_new_load_only(monkeypatch):
    clock, moved = [0.0], [0]
    adaptive = scheduling.Adaptive(moved=lambda: moved[0], clock=lambda: clock[0], switch_to=lambda name: name)
    monkeypatch.setattr(scheduling, "_mode", "adaptive")
    monkeypatch.setattr(scheduling, "_adaptive", adaptive)
    clock[0] = 1.0  # a quiet second since the last look, then the first request of a load
    scheduling.restart_window()
    clock[0], moved[0] = 1.05, 5_000_000  # 5 MB in the next 50 ms: 100 MB/s
    assert adaptive.check() == "batch"


def test_without_the_restart_the_quiet_second_dilutes_the_load():
    clock, moved = [0.0], [0]
    adaptive = scheduling.Adaptive(moved=lambda: moved[0], clock=lambda: clock[0], switch_to=lambda name: name)
    clock[0], moved[0] = 1.05, 5_000_000  # the same 5 MB, seen over 1.05 s: under 5 MB/s
    assert adaptive.check() == "normal"


def test_restart_window_does_nothing_unless_adaptive(monkeypatch):
    clock = [0.0]
    adaptive = scheduling.Adaptive(moved=lambda: 0, clock=lambda: clock[0], switch_to=lambda name: name)
    monkeypatch.setattr(scheduling, "_mode", "batch")
    monkeypatch.setattr(scheduling, "_adaptive", adaptive)
    clock[0] = 5.0
    scheduling.restart_window()
    assert adaptive._t0 == 0.0
