"""The kernel scheduling policy of the broker's processes: --scheduling / HPBROKER_SCHEDULING
(server/scheduling.py). Every process of a running broker is checked in
tests/integration/test_multiproc.py."""

import os

import pytest

from hpbroker import cli
from hpbroker.server import scheduling

needs_batch = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="no SCHED_BATCH on this platform")


def test_adaptive_is_the_default(monkeypatch):
    monkeypatch.delenv(scheduling.ENV, raising=False)
    assert scheduling.default_policy() == "adaptive"


def test_environment_picks_the_policy(monkeypatch):
    monkeypatch.setenv(scheduling.ENV, " Batch ")
    assert scheduling.check(scheduling.default_policy()) == "batch"


def test_unknown_policy_is_refused():
    with pytest.raises(scheduling.SchedulingError, match="unknown scheduling policy"):
        scheduling.check("fifo")
    assert cli.main(["--scheduling", "fifo", "--data-dir", "/nonexistent"]) == 2


def _in_child(fn) -> str:
    """Run ``fn`` in a forked child (the policy must not leak into the test process); its
    return value comes back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(w, str(fn()).encode())
        finally:
            os._exit(0)
    os.close(w)
    try:
        out = os.read(r, 100).decode()
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    return out


@needs_batch
def test_apply_switches_this_process_and_its_children_inherit_it():
    def child():
        got = [scheduling.apply("batch"), os.sched_getscheduler(0) == os.SCHED_BATCH]
        grandchild = _in_child(lambda: os.sched_getscheduler(0) == os.SCHED_BATCH)  # forked later
        got += [grandchild, scheduling.apply("normal"), os.sched_getscheduler(0) == os.SCHED_OTHER]
        return ",".join(map(str, got))

    assert _in_child(child) == "batch,True,True,normal,True"


@needs_batch
def test_a_refused_switch_is_logged_and_the_broker_runs_on(monkeypatch, caplog):
    def refuse(*_):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    assert scheduling.apply("batch") == scheduling.current()
    assert "cannot switch to batch scheduling" in caplog.text


def test_current_names_the_policy_of_a_process():
    assert scheduling.current() in ("batch", "normal")
    if hasattr(os, "SCHED_BATCH"):
        assert scheduling.current(os.getpid()) == scheduling.current()


class _Load:
    """A fake clock and byte counter, and a switch that records what it was asked."""

    def __init__(self):
        self.t, self.bytes, self.asked = 100.0, 0, []

    def run(self, seconds, rate):
        self.t += seconds
        self.bytes += int(seconds * rate)

    def switch(self, name):
        self.asked.append(name)
        return name


def _adaptive(load):
    return scheduling.Adaptive(moved=lambda: load.bytes, clock=lambda: load.t, switch_to=load.switch)


def test_adaptive_follows_the_table_with_hysteresis():
    load = _Load()
    a = _adaptive(load)
    steps = [  # (MB/s over the next 50 ms, policy expected after the tick)
        (2, "normal"),  # light
        (40, "normal"),  # between: keeps normal
        (500, "batch"),  # bulk
        (40, "batch"),  # between: keeps batch (a processor under batch moves less per tick)
        (100, "batch"),
        (10, "normal"),  # light again
        (65, "batch"),  # just above BULK_BYTES_S
        (15, "normal"),  # just below LIGHT_BYTES_S
    ]
    for mb_s, want in steps:
        load.run(0.05, mb_s * 1e6)
        assert a.check() == want, (mb_s, want)
    assert load.asked == ["batch", "normal", "batch", "normal"] and a.switches == 4


def test_adaptive_waits_for_a_useful_interval():
    load = _Load()
    a = _adaptive(load)
    load.run(scheduling.MIN_CHECK_S / 2, 1e9)  # bulk, but too short to tell
    assert a.check() == "normal" and load.asked == []
    load.run(scheduling.MIN_CHECK_S, 1e9)
    assert a.check() == "batch"


def test_adaptive_stops_after_a_refused_switch():
    load = _Load()
    a = scheduling.Adaptive(
        moved=lambda: load.bytes, clock=lambda: load.t, switch_to=lambda name: load.asked.append(name) or "normal"
    )
    load.run(0.05, 1e9)
    assert a.check() == "normal" and a.refused
    load.run(0.05, 1e9)
    a.check()
    assert load.asked == ["batch"]  # not asked again (nor logged again) every tick


def test_tick_acts_only_in_adaptive_mode_and_anew_in_a_forked_child(monkeypatch):
    made = []

    class Recorder:
        def __init__(self):
            self.pid = os.getpid()
            made.append(self)
            self.checks = 0

        def check(self):
            self.checks += 1

    monkeypatch.setattr(scheduling, "Adaptive", Recorder)
    monkeypatch.setattr(scheduling, "_adaptive", None)
    monkeypatch.setattr(scheduling, "_mode", "normal")
    scheduling.tick()
    assert made == []
    monkeypatch.setattr(scheduling, "_mode", "adaptive")
    scheduling.tick()
    scheduling.tick()
    assert len(made) == 1 and made[0].checks == 2
    made[0].pid = -1  # as a forked child sees its parent's
    scheduling.tick()
    assert len(made) == 2


def test_io_bytes_counts_received_socket_bytes(monkeypatch):
    base = scheduling.io_bytes()
    monkeypatch.setattr(scheduling, "received", scheduling.received + 10_000_000)
    assert scheduling.io_bytes() >= base + 10_000_000


def test_adaptive_means_normal_for_the_in_process_mode():
    assert scheduling.for_topology("adaptive", 0) == "normal"
    assert scheduling.for_topology("adaptive", 2) == "adaptive"
    assert scheduling.for_topology("batch", 0) == "batch"  # asked for by name: as asked
    assert scheduling.for_topology("normal", 2) == "normal"


@needs_batch
def test_apply_adaptive_starts_under_normal():
    def child():
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        return ",".join(
            [scheduling.apply("adaptive"), scheduling.in_force(), str(os.sched_getscheduler(0) == os.SCHED_OTHER)]
        )

    assert _in_child(child) == "normal,adaptive,True"


def test_an_in_process_broker_runs_normal_by_default(tmp_path, monkeypatch):
    from hpbroker.testing import running_broker

    monkeypatch.delenv(scheduling.ENV, raising=False)
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=["--processors", "1", "--handlers", "0"]) as b:
        assert os.sched_getscheduler(b.process.pid) == os.SCHED_OTHER
        assert "loop, normal scheduling)" in "".join(b.extra["log"])
