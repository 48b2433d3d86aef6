"""LogCleaner.run (the replica manager's cleaner): which compacted partition gets a pass, when none is looked at, and
the pass built on the cleaner thread and installed at a later tick (dropped if the log changed)."""

import os

import pytest

from hpbroker.records.builder import build_batch
from tests.handlers.harness import BrokerHarness

NOW = 10_000_000_000


def _broker(tmp_path, **overrides):
    conf = {"log.dirs": str(tmp_path), "log.cleaner.backoff.ms": "15000"}
    conf.update(overrides)
    return BrokerHarness(tmp_path, conf)


def _fill(broker, topic, rounds):
    log = broker.partition(topic, 0).log
    for r in range(rounds):
        for k in range(4):
            log.append(build_batch([(b"k%d" % k, b"v%d" % r, (), NOW)]))
        log.roll()
    log.append(build_batch([(b"tail", b"x", (), NOW)]))


def _pass(broker, now):
    """One whole pass as the maintenance ticks run it: plan + build on the cleaner thread, then
    install at the next tick."""
    assert broker.broker.replica_manager.cleaner.run(now) is None
    broker.broker.replica_manager.cleaner.wait(30)
    return broker.broker.replica_manager.cleaner.run(now)


@pytest.fixture
def broker(tmp_path):
    b = _broker(tmp_path)
    yield b
    b.close()


def test_the_dirtiest_compacted_partition_is_cleaned_then_the_cleaner_backs_off(broker):
    broker.create_topic("c1", 1, {"cleanup.policy": "compact"})
    broker.create_topic("c2", 1, {"cleanup.policy": "compact,delete"})
    broker.create_topic("d", 1, {})  # delete only: never cleaned
    broker.create_topic("__consumer_offsets", 1, {"cleanup.policy": "compact"})  # its coordinator's job
    for topic in ("c1", "c2", "d", "__consumer_offsets"):
        _fill(broker, topic, 3)
    first = _pass(broker, NOW)
    second = _pass(broker, NOW + 1)
    assert first is not None and second is not None
    cleaned = {p: broker.partition(p, 0).log.cleaner_offset for p in ("c1", "c2", "d", "__consumer_offsets")}
    assert cleaned["c1"] > 0 and cleaned["c2"] > 0 and cleaned["d"] == 0 and cleaned["__consumer_offsets"] == 0
    assert broker.broker.replica_manager.cleaner.run(NOW + 2) is None  # nothing due: the next look is a backoff away
    _fill(broker, "c1", 3)
    assert broker.broker.replica_manager.cleaner.run(NOW + 14_000) is None
    assert _pass(broker, NOW + 16_000) is not None


def test_a_pass_whose_log_changed_meanwhile_is_dropped(broker):
    broker.create_topic("c1", 1, {"cleanup.policy": "compact,delete", "retention.bytes": "1"})
    _fill(broker, "c1", 3)
    log = broker.partition("c1", 0).log
    assert broker.broker.replica_manager.cleaner.run(NOW) is None
    broker.broker.replica_manager.cleaner.wait(30)
    assert os.path.isdir(os.path.join(log.directory, "cleaning"))
    log.delete_old_segments(NOW)  # retention removes what the pass read
    assert broker.broker.replica_manager.cleaner.run(NOW) is None
    assert log.cleaner_offset == 0 and not os.path.exists(os.path.join(log.directory, "cleaning"))


def test_close_while_a_pass_is_built(tmp_path):
    b = _broker(tmp_path)
    b.create_topic("c1", 1, {"cleanup.policy": "compact"})
    _fill(b, "c1", 50)
    assert b.broker.replica_manager.cleaner.run(NOW) is None
    b.close()  # cancels and waits; nothing of the pass stays
    assert not os.path.exists(tmp_path / "c1-0" / "cleaning") and not os.path.exists(tmp_path / "c1-0" / "cleaned")


def test_log_cleaner_enable_false(tmp_path):
    b = _broker(tmp_path, **{"log.cleaner.enable": "false"})
    try:
        b.create_topic("c1", 1, {"cleanup.policy": "compact"})
        _fill(b, "c1", 3)
        assert (
            b.broker.replica_manager.cleaner.run(NOW) is None
            and b.broker.replica_manager.cleaner.wait(1) is None
            and b.broker.replica_manager.cleaner.run(NOW) is None
        )
        assert b.partition("c1", 0).log.cleaner_offset == 0
    finally:
        b.close()
