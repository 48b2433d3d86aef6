"""An idle multi-process broker sleeps: every process wakes about once a second, not 20 times.

A wake-up costs a sleeping process ~100-200 µs of CPU on a VM; with the supervisor polling
waitpid and every child ticking at 20 Hz, an idle 2/2 broker spent ~15 ms of CPU a second.
"""
from __future__ import annotations

import time

import psutil

from hpbroker.testing import running_broker


SETTLE_S = 3.0  # the safety ticks back off from 50 ms to 1 s within ~1.6 s of the last work
MEASURE_S = 3.0


def test_idle_processes_wake_about_once_a_second(tmp_path):
    with running_broker(subprocess=True, args=["--processors", "2", "--handlers", "2"],
                        data_dir=str(tmp_path / "data"), startup_timeout=60) as b:
        time.sleep(SETTLE_S)
        root = psutil.Process(b.process.pid)
        procs = [root] + root.children()
        assert len(procs) == 5
        before = [p.num_ctx_switches().voluntary for p in procs]
        time.sleep(MEASURE_S)
        wakes = [p.num_ctx_switches().voluntary - n for p, n in zip(procs, before)]
    # handlers: safety tick + log maintenance, each once a second; the rest once a second
    assert max(wakes) <= 3 * MEASURE_S + 3, wakes
