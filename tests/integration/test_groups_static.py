"""Static group membership (KIP-345) with real clients: a consumer with group.instance.id that
restarts (static members send no LeaveGroup) within its session gets its partitions back and
the other members see no rebalance; a second live instance with the same id fences the first;
a static member away past its session timeout is removed; admin tools remove static members by
instance id (LeaveGroup v3); DescribeGroups names the instance ids."""

import threading
import time

import pytest

from tests.integration.conftest import mode_broker

from .conftest import create_topic
from .groupclients import (
    GROUP_BROKER_CONFIG,
    ThreadedMember,
    confluent_consumer,
    group_id,
    kafka_python_consumer,
    wait_until,
)

pytestmark = pytest.mark.integration

PARTITIONS = 4


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


class Observer:
    """A confluent member whose rebalance callbacks are recorded: a revoke after its first
    assignment is a rebalance it took part in."""

    def __init__(self, bootstrap, group, topic, **extra):
        self.events: list[tuple[str, list[int]]] = []
        self.consumer = confluent_consumer(bootstrap, group, **extra)
        self.consumer.subscribe([topic], on_assign=self._record("assign"), on_revoke=self._record("revoke"))

    def _record(self, what):
        def callback(_consumer, partitions):
            self.events.append((what, sorted(p.partition for p in partitions)))

        return callback

    def owned(self):
        return _owned(self.consumer)


def _static_confluent(bootstrap, group, topic, instance, **extra):
    c = confluent_consumer(bootstrap, group, **{"group.instance.id": instance, **extra})
    c.subscribe([topic])
    return c


def _static_kafka_python(bootstrap, group, topic, instance, **extra):
    return ThreadedMember(lambda: kafka_python_consumer(bootstrap, group, group_instance_id=instance, **extra), topic)


def test_confluent_static_member_restarts_into_its_partitions_without_a_rebalance(gbroker, topic_name):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    group = group_id()
    observer = Observer(gbroker.bootstrap, group, topic_name, **{"group.instance.id": "observer"})
    a = _static_confluent(gbroker.bootstrap, group, topic_name, "a")
    try:
        assert _poll_until([a, observer.consumer], lambda: len(_owned(a)) == len(observer.owned()) == 2, 30)
        before, seen = _owned(a), list(observer.events)
        a.close()  # a static member leaves no LeaveGroup behind: this is a restart
        a = _static_confluent(gbroker.bootstrap, group, topic_name, "a")
        # a rebalance would need the observer to rejoin (revoking first) before the restarted
        # instance could be assigned anything: so when it is, the observer's events tell
        assert _poll_until([a, observer.consumer], lambda: _owned(a) == before, 20), (_owned(a), before)
        assert observer.events == seen, observer.events
        assert observer.owned() == set(range(PARTITIONS)) - before
    finally:
        a.close()
        observer.consumer.close()


def test_kafka_python_static_member_restarts_into_its_partitions_without_a_rebalance(gbroker, topic_name):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    group = group_id()
    observer = Observer(gbroker.bootstrap, group, topic_name)
    a = _static_kafka_python(gbroker.bootstrap, group, topic_name, "a")
    try:
        assert _poll_until([observer.consumer], lambda: len(a.assignment) == len(observer.owned()) == 2, 30)
        before, seen = set(a.assignment), list(observer.events)
        a.stop()  # closes the consumer: a static member sends no LeaveGroup
        a = _static_kafka_python(gbroker.bootstrap, group, topic_name, "a")
        assert _poll_until([observer.consumer], lambda: a.assignment == before, 20), (a.assignment, before)
        assert observer.events == seen, observer.events
    finally:
        a.stop()
        observer.consumer.close()


def test_confluent_second_instance_with_the_same_id_fences_the_first(gbroker, topic_name):
    from confluent_kafka import KafkaError

    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    group = group_id()
    errors = []
    first = _static_confluent(gbroker.bootstrap, group, topic_name, "x", error_cb=errors.append)
    second = None
    try:
        assert _poll_until([first], lambda: len(_owned(first)) == PARTITIONS, 30)
        second = _static_confluent(gbroker.bootstrap, group, topic_name, "x")
        # the newcomer takes the instance's place (and its partitions) at once ...
        assert _poll_until([second], lambda: len(_owned(second)) == PARTITIONS, 20)

        # ... and the first instance's next heartbeat is answered FENCED_INSTANCE_ID, which
        # librdkafka raises as a fatal error naming it
        fenced_text = KafkaError(KafkaError.FENCED_INSTANCE_ID).str()

        def fenced():
            second.poll(0.02)
            msg = first.poll(0.02)
            if msg is not None and msg.error():
                errors.append(msg.error())
            return any(e.code() == KafkaError._FATAL and fenced_text in e.str() for e in errors)

        assert wait_until(fenced, 20, step=0), [e.str() for e in errors]
        assert len(_owned(second)) == PARTITIONS
    finally:
        first.close()
        if second is not None:
            second.close()


def test_kafka_python_second_instance_with_the_same_id_fences_the_first(gbroker, topic_name):
    from kafka.errors import FencedInstanceIdError
    from kafka.structs import OffsetAndMetadata, TopicPartition

    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    group = group_id()
    first = kafka_python_consumer(gbroker.bootstrap, group, group_instance_id="x")
    second = None
    try:
        first.subscribe([topic_name])
        assert wait_until(
            lambda: first.poll(timeout_ms=100) is not None and len(first.assignment()) == PARTITIONS, 30, step=0
        )
        second = kafka_python_consumer(gbroker.bootstrap, group, group_instance_id="x")
        second.subscribe([topic_name])
        assert wait_until(
            lambda: second.poll(timeout_ms=100) is not None and len(second.assignment()) == PARTITIONS, 20, step=0
        )
        with pytest.raises(FencedInstanceIdError):
            first.commit({TopicPartition(topic_name, 0): OffsetAndMetadata(0, "", -1)})
        second.commit({TopicPartition(topic_name, 0): OffsetAndMetadata(0, "", -1)})  # the live one commits
    finally:
        first.close()
        if second is not None:
            second.close()


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_a_static_member_away_past_its_session_timeout_is_removed(gbroker, topic_name, client):
    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    group = group_id()
    session_ms = 2000
    observer = Observer(gbroker.bootstrap, group, topic_name)
    if client == "confluent":
        a = _static_confluent(gbroker.bootstrap, group, topic_name, "a", **{"session.timeout.ms": session_ms})
        polled, owned_by_a, close_a = [a, observer.consumer], lambda: _owned(a), a.close
    else:
        a = _static_kafka_python(gbroker.bootstrap, group, topic_name, "a", session_timeout_ms=session_ms)
        polled, owned_by_a, close_a = [observer.consumer], lambda: a.assignment, a.stop
    try:
        assert _poll_until(polled, lambda: len(owned_by_a()) == len(observer.owned()) == 2, 30)
        close_a()  # no LeaveGroup: only the session timeout removes it
        gone = time.monotonic()
        assert _poll_until([observer.consumer], lambda: observer.owned() == set(range(PARTITIONS)), 20)
        waited = time.monotonic() - gone
        assert waited >= session_ms / 1000 * 0.5, f"moved after {waited:.1f}s: before the session could expire"
        assert any(what == "revoke" for what, _ in observer.events)  # the group rebalanced
    finally:
        observer.consumer.close()


def test_admin_removes_a_static_member_by_instance_id(gbroker, topic_name):
    from kafka.admin import KafkaAdminClient, MemberToRemove
    from kafka.errors import FencedInstanceIdError, NoError, UnknownMemberIdError

    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    group = group_id()
    observer = Observer(gbroker.bootstrap, group, topic_name, **{"group.instance.id": "observer"})
    a = _static_confluent(
        gbroker.bootstrap, group, topic_name, "a", **{"session.timeout.ms": 60000, "max.poll.interval.ms": 60000}
    )
    admin = KafkaAdminClient(bootstrap_servers=gbroker.bootstrap)
    try:
        assert _poll_until([a, observer.consumer], lambda: len(_owned(a)) == len(observer.owned()) == 2, 30)
        a.close()  # gone without a LeaveGroup; its session (60 s) would keep its partitions
        result = admin.remove_group_members(
            group,
            [
                MemberToRemove(group_instance_id="a"),  # as admin tools name a static member: no member id
                MemberToRemove(member_id="a-stale-member-id", group_instance_id="observer"),
                MemberToRemove(group_instance_id="nobody"),
            ],
        )
        assert result == {"a": NoError, "a-stale-member-id": FencedInstanceIdError, "nobody": UnknownMemberIdError}
        started = time.monotonic()
        assert _poll_until([observer.consumer], lambda: observer.owned() == set(range(PARTITIONS)), 20)
        assert time.monotonic() - started < 20
    finally:
        admin.close()
        observer.consumer.close()


def test_describe_groups_names_each_members_instance_id(gbroker, topic_name):
    from confluent_kafka.admin import AdminClient
    from kafka.admin import KafkaAdminClient

    create_topic(gbroker.bootstrap, topic_name, PARTITIONS)
    group = group_id()
    static = _static_confluent(gbroker.bootstrap, group, topic_name, "static-1")
    dynamic = confluent_consumer(gbroker.bootstrap, group)
    dynamic.subscribe([topic_name])
    kp_admin = KafkaAdminClient(bootstrap_servers=gbroker.bootstrap)
    stop = threading.Event()

    def keep_polling():  # heartbeats go on while the admin clients ask
        while not stop.is_set():
            static.poll(0.05)
            dynamic.poll(0.05)

    poller = threading.Thread(target=keep_polling, daemon=True)
    try:
        assert _poll_until([static, dynamic], lambda: len(_owned(static)) == len(_owned(dynamic)) == 2, 30)
        poller.start()
        admin = AdminClient({"bootstrap.servers": gbroker.bootstrap})
        members = admin.describe_consumer_groups([group])[group].result(timeout=15).members
        assert sorted((m.group_instance_id or "") for m in members) == ["", "static-1"]
        kp_members = kp_admin.describe_groups([group])[group]["members"]
        assert sorted((m["group_instance_id"] or "") for m in kp_members) == ["", "static-1"]
    finally:
        stop.set()
        if poller.is_alive():
            poller.join(10)
        kp_admin.close()
        static.close()
        dynamic.close()
