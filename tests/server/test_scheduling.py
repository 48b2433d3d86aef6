"""The kernel scheduling policy of the broker's processes: --scheduling / HPBROKER_SCHEDULING
(server/scheduling.py). Every process of a running broker is checked in
tests/integration/test_multiproc.py."""
import os

import pytest

from hpbroker import cli
from hpbroker.server import scheduling

needs_batch = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="no SCHED_BATCH on this platform")


def test_normal_is_the_default(monkeypatch):
    monkeypatch.delenv(scheduling.ENV, raising=False)
    assert scheduling.default_policy() == "normal"


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
