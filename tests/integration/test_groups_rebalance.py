"""Membership changes: a member that leaves hands its partitions over at once; a member killed
with SIGKILL is expired after its session timeout and its partitions move to the survivor."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.integration.conftest import mode_broker

from .conftest import create_topic
from .groupclients import GROUP_BROKER_CONFIG, confluent_consumer, group_id, wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 4
HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def gbroker():
    with mode_broker(config=GROUP_BROKER_CONFIG) as b:
        yield b


def _owned(c):
    return {tp.partition for tp in c.assignment()}


def _poll_until(consumers, cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in consumers:
            c.poll(0.05)
        if cond():
            return True
    return False


def test_member_that_leaves_triggers_a_rebalance(gbroker, topic_name):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    group = group_id()
    a = confluent_consumer(gbroker.bootstrap, group)
    b = confluent_consumer(gbroker.bootstrap, group)
    try:
        a.subscribe([topic_name])
        b.subscribe([topic_name])
        assert _poll_until([a, b], lambda: len(_owned(a)) == 2 and len(_owned(b)) == 2, 20)
        start = time.monotonic()
        b.close()  # LeaveGroup: no waiting for the session timeout
        b = None
        assert _poll_until([a], lambda: _owned(a) == set(range(PARTITIONS)), 20)
        assert time.monotonic() - start < 5.0  # well under session.timeout.ms (6 s)
    finally:
        a.close()
        if b is not None:
            b.close()


def test_killed_member_expires_after_session_timeout(gbroker, topic_name):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    group = group_id()
    session_ms = 2000
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "group_member.py"), gbroker.bootstrap, topic_name, group, str(session_ms)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    survivor = None
    try:
        assert wait_until(lambda: "ASSIGNED 0,1,2,3\n" in lines, 20), lines
        survivor = confluent_consumer(
            gbroker.bootstrap, group, **{"session.timeout.ms": session_ms, "heartbeat.interval.ms": 200}
        )
        survivor.subscribe([topic_name])
        assert _poll_until([survivor], lambda: len(_owned(survivor)) == 2, 20)
        assert wait_until(lambda: len(lines[-1].split()[-1].split(",")) == 2, 10), lines
        os.killpg(proc.pid, signal.SIGKILL)  # no LeaveGroup: only the session timeout can tell
        proc.wait(10)
        killed = time.monotonic()
        assert _poll_until([survivor], lambda: _owned(survivor) == set(range(PARTITIONS)), 20)
        waited = time.monotonic() - killed
        assert waited >= session_ms / 1000 * 0.5, f"moved after {waited:.1f}s: before the session could expire"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if survivor is not None:
            survivor.close()
