"""Unit tests of the perf tools' shared helpers (no broker needed)."""

import os
import subprocess
import sys

import _brokers
import _common
import pytest


def test_percentiles_nearest_rank():
    values = list(range(1, 1001))
    got = _common.percentiles(values, (50, 99, 99.9, 100))
    assert got == {"p50": 500, "p99": 990, "p99.9": 999, "max": 1000}
    assert _common.percentiles([], (50,)) == {"p50": None}


def test_client_config_pairs():
    assert _common.parse_client_config(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(SystemExit):
        _common.parse_client_config(["novalue"])


@pytest.mark.parametrize(
    "line, bootstrap",
    [
        ("INFO hpbroker: listening on 127.0.0.1:9092", ("127.0.0.1", "9092")),
        ("listening on tcp://localhost:19092 (advertised ...)", ("localhost", "19092")),
        ("listening on [::1]:9093", ("[::1]", "9093")),
    ],
)
def test_readiness_line(line, bootstrap):
    assert _brokers.LISTENING.search(line).groups() == bootstrap


def test_broker_that_exits_early_is_reported_with_its_log(tmp_path):
    import sys

    with pytest.raises(RuntimeError, match="(?s)exited with code 3.*boom"):
        _brokers.start_hpbroker(f"{sys.executable} -c \"import sys; print('boom'); sys.exit(3)\"", timeout=10)


# --- free page reporting (a VM's freed memory returned to its host) ------------------------


def test_free_page_reporting_state(tmp_path):
    order = tmp_path / "page_reporting_order"
    assert _common.free_page_reporting(order) is None  # no such parameter: bare metal
    order.write_text("9\n")
    assert _common.free_page_reporting(order) == {"page_reporting_order": 9, "active": True}
    order.write_text("11\n")
    assert _common.free_page_reporting(order) == {"page_reporting_order": 11, "active": False}
    assert "free_page_reporting" in _common.machine()  # every JSON result says which it was


def test_paused_page_reporting_restores_the_order(tmp_path):
    order = tmp_path / "page_reporting_order"
    order.write_text("9\n")
    said = []
    with _common.PausedPageReporting(prefault_gb=0.01, say=said.append, path=order):
        assert order.read_text().strip() == str(_common.PAGE_REPORTING_OFF)
    assert order.read_text().strip() == "9"
    assert any("paused" in s for s in said) and any("touched" in s for s in said)
    assert any("restored" in s for s in said)
    # and on the way out of a failed run too
    with pytest.raises(RuntimeError):
        with _common.PausedPageReporting(path=order, say=said.append):
            raise RuntimeError("run failed")
    assert order.read_text().strip() == "9"


def test_paused_page_reporting_without_the_parameter(tmp_path):
    said = []
    with _common.PausedPageReporting(prefault_gb=1, say=said.append, path=tmp_path / "absent"):
        pass
    assert said == ["free page reporting: none on this kernel, nothing to pause"]


def test_page_reporting_options():
    import argparse

    parser = argparse.ArgumentParser()
    _common.add_page_reporting_args(parser)
    ns = parser.parse_args([])
    assert not ns.pause_page_reporting and ns.prefault_gb is None
    with _common.page_reporting_for(ns, say=lambda text: None):
        pass  # without the option nothing is changed, at most a note is printed
    ns = parser.parse_args(["--pause-page-reporting", "--prefault-gb", "0.5"])
    ctx = _common.page_reporting_for(ns)
    assert isinstance(ctx, _common.PausedPageReporting) and ctx.prefault_gb == 0.5


def test_interrupted_prefault_restores_the_order(tmp_path, monkeypatch):
    # a Ctrl-C during the minute-long touch raises in __enter__, where __exit__ never runs
    order = tmp_path / "page_reporting_order"
    order.write_text("9\n")

    def interrupted(nbytes):
        raise KeyboardInterrupt

    monkeypatch.setattr(_common, "prefault", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with _common.PausedPageReporting(prefault_gb=1, say=lambda text: None, path=order):
            pass
    assert order.read_text().strip() == "9"


_BURN = """
import resource, sys, threading, time
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
def burn(ms):
    end = time.thread_time() + ms / 1e3
    while time.thread_time() < end:
        pass
work = threading.Semaphore(0)
def worker():  # a thread that lives through every window
    while True:
        work.acquire()
        burn(ms / 2)
        done.release()
done = threading.Semaphore(0)
threading.Thread(target=worker, daemon=True).start()
print("ready", flush=True)
for line in sys.stdin:
    mode, ms = line.split()
    ms = float(ms)
    c0 = cpu()
    if mode == "short-lived":  # a thread that starts and ends inside the window
        t = threading.Thread(target=burn, args=(ms / 2,))
        t.start()
        t.join()
    else:
        work.release()
        done.acquire()
    burn(ms / 2)
    print(cpu() - c0, flush=True)
"""


def _burner():
    proc = subprocess.Popen([sys.executable, "-c", _BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    return proc


def _measure(proc, mode, ms):
    before = _common.tree_cpu_sample(proc.pid)
    proc.stdin.write(f"{mode} {ms}\n")
    proc.stdin.flush()
    own = float(proc.stdout.readline())  # the process's own getrusage: exact
    return _common.cpu_seconds_between(before, _common.tree_cpu_sample(proc.pid)), own


@pytest.mark.skipif(
    not os.path.exists("/proc/self/task/%d/sched" % os.getpid()),
    reason="the kernel shows no per-thread run times (CONFIG_SCHED_DEBUG)",
)
def test_cpu_between_two_samples_is_exact_not_clock_ticks():
    proc = _burner()
    try:
        errors = []
        for ms in (23.7, 31.3, 17.9, 44.1, 26.6):  # off the 10 ms steps of clock ticks
            measured, own = _measure(proc, "long-lived", ms)
            errors.append(abs(measured - own))
        assert max(errors) < 0.002, errors
        # a thread seen in neither sample: counted by clock ticks, not lost
        measured, own = _measure(proc, "short-lived", 200)
        assert abs(measured - own) <= _common.TICK_SLACK_S + 0.002, (measured, own)
    finally:
        proc.stdin.close()
        proc.wait(10)


def test_cpu_between_falls_back_to_clock_ticks_when_a_thread_is_gone_or_unknown():
    before = {
        1: {"ticks": 1.0, "children": 0.5, "threads": {1: 0.5, 2: 5.0}},
        2: {"ticks": 2.0, "children": 0.0, "threads": None},
    }
    after = {
        1: {"ticks": 1.2, "children": 0.6, "threads": {1: 0.6}},  # thread 2 exited: its 5 s are not lost as -5
        2: {"ticks": 2.3, "children": 0.0, "threads": {7: 0.01}},  # nothing exact before: ticks
        3: {"ticks": 0.01, "children": 0.0, "threads": {3: 0.004, 4: 0.002}},
    }  # new process: exact from zero
    assert _common.cpu_seconds_between(before, after) == pytest.approx(0.2 + 0.1 + 0.3 + 0.006)
    same = {1: {"ticks": 1.0, "children": 0.0, "threads": {1: 0.5}}}
    later = {1: {"ticks": 1.0, "children": 0.0, "threads": {1: 0.5034, 9: 0.001}}}  # a thread started in between
    assert _common.cpu_seconds_between(same, later) == pytest.approx(0.0044)
