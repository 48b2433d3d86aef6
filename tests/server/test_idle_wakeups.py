"""An idle multi-process broker sleeps: every process wakes about once a second, not 20 times.

Every wake-up costs a sleeping process a context switch and cold caches: a supervisor polling
waitpid and children ticking at 20 Hz would keep an idle broker spending CPU on nothing.
"""

from __future__ import annotations

import time

import psutil
import pytest

from hpbroker.testing import running_broker

pytestmark = pytest.mark.timing  # wake-ups a second: counts a busy machine skews

SETTLE_S = 3.0  # the safety ticks back off from 50 ms to 1 s within ~1.6 s of the last work
MEASURE_S = 3.0


def test_idle_processes_wake_about_once_a_second(tmp_path):
    with running_broker(
        subprocess=True,
        args=["--processors", "2", "--handlers", "2"],
        data_dir=str(tmp_path / "data"),
        startup_timeout=60,
    ) as b:
        time.sleep(SETTLE_S)  # letting time pass is the point: the ticks back off
        root = psutil.Process(b.process.pid)
        procs = [root] + root.children()
        assert len(procs) == 5
        before = [p.num_ctx_switches().voluntary for p in procs]
        time.sleep(MEASURE_S)  # the measurement window
        wakes = [p.num_ctx_switches().voluntary - n for p, n in zip(procs, before)]
    # handlers: safety tick + log maintenance, each once a second; the rest once a second
    assert max(wakes) <= 3 * MEASURE_S + 3, wakes


def test_a_parked_consumer_costs_a_few_wakeups_a_second(tmp_path):
    """A consumer long-polling an empty topic keeps a Fetch parked in a processor nearly all the
    time. Handlers wake that processor when they append; its own table poll is only a backstop
    and backs off (10 ms up to 250 ms) while the same Fetches stay parked, instead of about a
    hundred wake-ups a second at a fixed 10 ms."""
    from confluent_kafka import Consumer, TopicPartition

    with running_broker(
        subprocess=True,
        args=["--processors", "1", "--handlers", "1"],
        data_dir=str(tmp_path / "data"),
        startup_timeout=60,
    ) as b:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        for f in admin.create_topics([NewTopic("idle", 1, 1)]).values():
            f.result(20)
        consumer = Consumer(
            {
                "bootstrap.servers": b.bootstrap,
                "group.id": "idle-test",
                "fetch.wait.max.ms": 500,
                "enable.auto.commit": False,
            }
        )
        try:
            consumer.assign([TopicPartition("idle", 0, 0)])
            deadline = time.monotonic() + SETTLE_S
            while time.monotonic() < deadline:
                consumer.poll(0.1)
            root = psutil.Process(b.process.pid)
            procs = root.children()
            before = [p.num_ctx_switches().voluntary for p in procs]
            deadline = time.monotonic() + MEASURE_S
            while time.monotonic() < deadline:
                consumer.poll(0.1)
            wakes = [p.num_ctx_switches().voluntary - n for p, n in zip(procs, before)]
        finally:
            consumer.close()
    # the processor: 2 Fetches a second and their timeouts, ~4 backstop polls, the safety tick
    # (about 9 a second); a fixed 10 ms poll would be over 300 in 3 s
    assert max(wakes) <= 15 * MEASURE_S, wakes
