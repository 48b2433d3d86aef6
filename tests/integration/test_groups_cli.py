"""``hpbroker groups list`` and ``hpbroker groups describe`` against a live group."""

import subprocess
import sys
import time

import pytest
from confluent_kafka import TopicPartition

from hpbroker.admin.groups import describe_group, format_description, list_groups
from tests.integration.conftest import mode_broker

from .conftest import create_topic
from .groupclients import GROUP_BROKER_CONFIG, confluent_consumer, group_id, produce

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gbroker():
    with mode_broker(config=GROUP_BROKER_CONFIG) as b:
        yield b


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "hpbroker", "groups", *args], capture_output=True, text=True, timeout=30
    )


def test_groups_list_and_describe(gbroker, topic_name):
    create_topic(gbroker.bootstrap, topic_name, 3)
    produce(gbroker.bootstrap, topic_name, 3, 4)  # log end offset 4 everywhere
    group = group_id()
    c = confluent_consumer(gbroker.bootstrap, group, **{"client.id": "cli-test-client"})
    try:
        c.subscribe([topic_name])
        deadline = time.monotonic() + 20
        while len(c.assignment()) < 3 and time.monotonic() < deadline:
            c.poll(0.05)
        c.commit(offsets=[TopicPartition(topic_name, 0, 4), TopicPartition(topic_name, 1, 1)], asynchronous=False)

        assert (group, "consumer") in list_groups(gbroker.bootstrap)
        d = describe_group(gbroker.bootstrap, group)
        assert d.state == "Stable" and d.protocol_type == "consumer" and d.protocol == "range"
        assert len(d.members) == 1 and d.members[0]["client_id"] == "cli-test-client"
        assert d.members[0]["assignment"] == [(topic_name, [0, 1, 2])]
        rows = {r.partition: (r.committed_offset, r.log_end_offset, r.lag, r.client_id) for r in d.partitions}
        assert rows == {
            0: (4, 4, 0, "cli-test-client"),
            1: (1, 4, 3, "cli-test-client"),
            2: (None, 4, None, "cli-test-client"),
        }

        out = _cli("list", "--bootstrap", gbroker.bootstrap)
        assert out.returncode == 0 and group in out.stdout.split()
        out = _cli("describe", group, "--bootstrap", gbroker.bootstrap)
        assert out.returncode == 0, out.stderr
        assert out.stdout == format_description(describe_group(gbroker.bootstrap, group)) + "\n"
        lines = [ln.split() for ln in out.stdout.splitlines()]
        assert "CURRENT-OFFSET" in lines[2] and "LAG" in lines[2]
        assert [group, topic_name, "1", "1", "4", "3"] == lines[4][:6]
        assert any("cli-test-client" in ln and f"{topic_name}:0/1/2" in ln for ln in out.stdout.splitlines())
    finally:
        c.close()


def test_cli_reports_errors_and_keeps_broker_flags(gbroker):
    out = _cli("describe", "g", "--bootstrap", "127.0.0.1:1")
    assert out.returncode == 1 and "cannot connect" in out.stderr
    assert _cli("describe").returncode == 2  # argparse: GROUP and --bootstrap are required
    helped = subprocess.run([sys.executable, "-m", "hpbroker", "--help"], capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0 and "--port" in helped.stdout


def test_groups_delete_offsets(gbroker, topic_name):
    """``hpbroker groups delete-offsets``: per-partition status as Kafka's tool prints it; a live
    member's topic is refused (GROUP_SUBSCRIBED_TO_TOPIC, exit 1), an Empty group's goes."""
    other = create_topic(gbroker.bootstrap, topic_name + "-o", 2)
    create_topic(gbroker.bootstrap, topic_name, 2)
    group = group_id()
    c = confluent_consumer(gbroker.bootstrap, group)
    try:
        c.subscribe([topic_name])
        deadline = time.monotonic() + 20
        while len(c.assignment()) < 2 and time.monotonic() < deadline:
            c.poll(0.05)
        c.commit(
            offsets=[
                TopicPartition(topic_name, 0, 3),
                TopicPartition(topic_name, 1, 3),
                TopicPartition(other, 0, 2),
                TopicPartition(other, 1, 2),
            ],
            asynchronous=False,
        )
        out = _cli(
            "delete-offsets", group, "--topic", topic_name + ":1", "--topic", other, "--bootstrap", gbroker.bootstrap
        )
        assert out.returncode == 1, out.stderr
        rows = [ln.split(None, 2) for ln in out.stdout.splitlines()]
        assert rows == [
            ["TOPIC", "PARTITION", "STATUS"],
            [topic_name, "1", "Error: GROUP_SUBSCRIBED_TO_TOPIC"],
            [other, "0", "Successful"],
            [other, "1", "Successful"],
        ]
    finally:
        c.close()
    committed = {
        (r.topic, r.partition): r.committed_offset for r in describe_group(gbroker.bootstrap, group).partitions
    }
    assert committed == {(topic_name, 0): 3, (topic_name, 1): 3}
    out = _cli("delete-offsets", group, "--topic", topic_name + ":0", "--bootstrap", gbroker.bootstrap)
    assert out.returncode == 0, out.stderr
    committed = {
        (r.topic, r.partition): r.committed_offset for r in describe_group(gbroker.bootstrap, group).partitions
    }
    assert committed == {(topic_name, 1): 3}
    out = _cli("delete-offsets", group + "-missing", "--topic", topic_name, "--bootstrap", gbroker.bootstrap)
    assert out.returncode == 1 and "GROUP_ID_NOT_FOUND" in out.stderr


def test_groups_list_with_states(gbroker, topic_name):
    """``hpbroker groups list --state [STATES]`` as kafka-consumer-groups.sh --list --state: each
    group's state, or only the groups in the states named (filtered by the broker)."""
    create_topic(gbroker.bootstrap, topic_name, 1)
    live, idle = group_id(), group_id()
    c = confluent_consumer(gbroker.bootstrap, live)
    try:
        c.subscribe([topic_name])
        deadline = time.monotonic() + 20
        while not c.assignment() and time.monotonic() < deadline:
            c.poll(0.05)
        c.commit(offsets=[TopicPartition(topic_name, 0, 0)], asynchronous=False)
        other = confluent_consumer(gbroker.bootstrap, idle)
        other.commit(offsets=[TopicPartition(topic_name, 0, 0)], asynchronous=False)
        other.close()

        out = _cli("list", "--bootstrap", gbroker.bootstrap, "--state")
        assert out.returncode == 0, out.stderr
        rows = [ln.split() for ln in out.stdout.splitlines()]
        assert rows[0] == ["GROUP", "STATE"] and [live, "Stable"] in rows and [idle, "Empty"] in rows
        out = _cli("list", "--bootstrap", gbroker.bootstrap, "--state", "stable")
        rows = [ln.split() for ln in out.stdout.splitlines()]
        assert out.returncode == 0 and [live, "Stable"] in rows and not any(r[0] == idle for r in rows)
        out = _cli("list", "--bootstrap", gbroker.bootstrap, "--state", "Empty,Dead")
        rows = [ln.split() for ln in out.stdout.splitlines()]
        assert [idle, "Empty"] in rows and not any(r[0] == live for r in rows)
    finally:
        c.close()


# each command, what it prints once the group's partition is loaded, and the answer it gives up on
LOADING_CALLS = {
    "list": (
        lambda groups, boot: ("g-loading", "") in groups.list_groups(boot),  # committed, no member
        "COORDINATOR_LOAD_IN_PROGRESS",
    ),
    "describe": (
        lambda groups, boot: (
            [(r.partition, r.committed_offset) for r in groups.describe_group(boot, "g-loading").partitions] == [(0, 3)]
        ),
        "NOT_COORDINATOR",
    ),
    "delete-offsets": (
        lambda groups, boot: groups.delete_offsets(boot, "g-loading", ["loading:0"]) == [("loading", 0, 0)],
        "NOT_COORDINATOR",
    ),
}


@pytest.mark.parametrize("command", list(LOADING_CALLS))
def test_groups_commands_wait_while_a_coordinator_partition_loads(monkeypatch, command):
    """A broker whose __consumer_offsets partition is not loaded yet answers ListGroups with
    COORDINATOR_LOAD_IN_PROGRESS and the group's own requests with NOT_COORDINATOR: ``groups
    list``, ``describe`` and ``delete-offsets`` ask again (describe and delete-offsets from
    FindCoordinator on), as Kafka's admin client does, and answer once the partition is loaded;
    past RETRY_FOR_S they report the error. (The broker runs in-process here: the test takes the
    partition away on the broker's own loop.)"""
    import asyncio
    import threading

    from hpbroker.admin import groups
    from hpbroker.admin.client import ToolError
    from hpbroker.coordinator.coordinator import GROUP_METADATA_TOPIC, GroupCoordinator
    from hpbroker.testing import running_broker

    call, gives_up_on = LOADING_CALLS[command]
    with running_broker(config={"offsets.topic.num.partitions": "1"}) as b:
        create_topic(b.bootstrap, "loading", 1)
        c = confluent_consumer(b.bootstrap, "g-loading")
        c.commit(offsets=[TopicPartition("loading", 0, 3)], asynchronous=False)
        c.close()
        broker, key = b.server.broker, (GROUP_METADATA_TOPIC, 0)
        taken = {}

        def on_loop(fn):
            done = threading.Event()
            b.server.loop.call_soon_threadsafe(lambda: (fn(), done.set()))
            assert done.wait(10)

        def take():  # as if this broker had not opened the partition yet
            taken["log"] = broker.replica_manager.partitions.pop(key)
            broker.group_coordinator = GroupCoordinator(
                broker.config, broker.metadata, broker.replica_manager, broker.controller
            )

        on_loop(take)
        assert asyncio.run_coroutine_threadsafe(broker.group_coordinator.start(), b.server.loop).result(10)
        assert broker.group_coordinator.unloaded == {0}
        monkeypatch.setattr(groups, "RETRY_FOR_S", 0.3)
        with pytest.raises(ToolError, match=gives_up_on):
            call(groups, b.bootstrap)

        monkeypatch.setattr(groups, "RETRY_FOR_S", 30.0)
        timer = threading.Timer(
            0.5, on_loop, (lambda: broker.replica_manager.partitions.__setitem__(key, taken["log"]),)
        )
        timer.start()
        t0 = time.monotonic()
        try:
            assert call(groups, b.bootstrap)
        finally:
            timer.join()
        assert time.monotonic() - t0 >= 0.4  # it waited for the partition, and did not fail
