"""Connection counts and limits (server/connection_quotas.py): one process, and several
processors over one shared table (two SharedCounts over one buffer stand for two processes)."""

import logging

import pytest

from hpbroker.config import BrokerConfig, ConfigError
from hpbroker.server import connection_quotas as cq
from hpbroker.server.connection_quotas import ConnectionLimits, LocalCounts, SharedCounts, address_key


def _shared(limits, processors=2, **follow):
    words = memoryview(bytearray(8 * cq.region_words() * processors)).cast("q")
    return [SharedCounts(limits, words, p, processors, **follow) for p in range(processors)]


def test_an_ipv4_address_and_its_mapped_ipv6_form_are_one_address():
    assert address_key("127.0.0.1") == address_key("::ffff:127.0.0.1")
    assert address_key("127.0.0.1") != address_key("127.0.0.2")
    assert address_key("::1") != address_key("127.0.0.1")
    assert address_key("fe80::1%eth0") == address_key("fe80::1")


def test_limits_from_the_properties():
    default = ConnectionLimits.from_config(BrokerConfig())
    assert (default.max_connections, default.per_ip, default.overrides) == (cq.UNLIMITED, cq.UNLIMITED, {})
    limits = ConnectionLimits.from_config(
        BrokerConfig(
            {
                "max.connections": "100",
                "max.connections.per.ip": "0",
                "max.connections.per.ip.overrides": "localhost:5,[::1]:7, 10.0.0.1:0",
            }
        )
    )
    assert limits.max_connections == 100
    assert limits.limit_for(address_key("127.0.0.1")) == 5  # localhost, resolved at start-up
    assert limits.limit_for(address_key("::1")) == 7
    assert limits.limit_for(address_key("10.0.0.1")) == 0
    assert limits.limit_for(address_key("10.0.0.2")) == 0  # everyone else: max.connections.per.ip


@pytest.mark.parametrize(
    "static, message",
    [
        ({"max.connections.per.ip": "0"}, "can be set to zero only if max.connections.per.ip.overrides"),
        ({"max.connections.per.ip.overrides": "host-only"}, "each entry is host:count"),
        ({"max.connections.per.ip.overrides": "a:1,b:-2"}, "each entry is host:count"),
        ({"max.connections.per.ip.overrides": "no-such-host.invalid:1"}, "cannot resolve"),
        ({"max.connections": "many"}, "Not a number of type INT"),
    ],
)
def test_what_kafka_refuses(static, message):
    with pytest.raises(ConfigError, match=message):
        ConnectionLimits.from_config(BrokerConfig(static))


def test_one_process_counts_per_address_and_in_all():
    counts = LocalCounts(ConnectionLimits(max_connections=3, per_ip=2))
    assert counts.admit("10.0.0.1") and counts.admit("10.0.0.1")
    assert not counts.admit("10.0.0.1")  # at its limit: refused, not counted
    assert counts.room() and counts.admit("10.0.0.2")
    assert not counts.room()  # three held
    counts.release("10.0.0.1")
    assert counts.room() and counts.admit("::ffff:10.0.0.1")
    assert counts.open == 3 and counts.by_address == {address_key("10.0.0.1"): 2, address_key("10.0.0.2"): 1}


def test_limits_follow_the_configs_dynamic_values():
    """Counted per address with no limit set, so a limit set at run time (AlterConfigs) counts
    the connections already open; those stay, the next ones are refused."""
    config = BrokerConfig()
    counts = LocalCounts(ConnectionLimits.from_config(config), config)
    for _ in range(3):
        assert counts.room() and counts.admit("10.0.0.1")
    assert counts.by_address == {address_key("10.0.0.1"): 3}
    config.dynamic = {"max.connections.per.ip": "2", "max.connections": "4"}
    assert not counts.admit("10.0.0.1")
    assert counts.room() and counts.admit("10.0.0.2")
    assert not counts.room()
    config.dynamic = {}
    assert counts.room() and counts.admit("10.0.0.1")


def test_a_processor_looks_at_the_registry_before_it_counts():
    config, looked = BrokerConfig(), []

    def refresh():  # as ProcessorBroker.refresh applies the broker configs the controller published
        looked.append(1)
        config.dynamic = {"max.connections.per.ip": "1"}

    (a,) = _shared(ConnectionLimits.from_config(config), processors=1, config=config, refresh=refresh)
    assert a.admit("10.0.0.1") and not a.admit("10.0.0.1") and looked


def test_an_override_that_does_not_resolve_leaves_the_limits_as_they_were(caplog):
    """Taken by AlterConfigs (Kafka resolves the names when it applies them); the counts keep
    the limits they had and a warning names the host."""
    config = BrokerConfig()
    counts = LocalCounts(ConnectionLimits.from_config(config), config)
    config.dynamic = {"max.connections.per.ip": "1"}
    assert counts.admit("10.0.0.1") and not counts.admit("10.0.0.1")
    config.dynamic = {"max.connections.per.ip": "5", "max.connections.per.ip.overrides": "no-such-host.invalid:1"}
    assert not counts.admit("10.0.0.1")  # still 1
    assert "no-such-host.invalid" in caplog.text


def test_processors_count_each_others_connections():
    a, b = _shared(ConnectionLimits(max_connections=4, per_ip=2))
    assert a.admit("10.0.0.1")
    assert b.admit("10.0.0.1")
    assert not a.admit("10.0.0.1") and not b.admit("10.0.0.1")  # one each: the address is at 2
    assert a.admit("10.0.0.2") and b.admit("10.0.0.3")
    assert not a.room() and not b.room()  # 4 held between them
    b.release("10.0.0.1")
    assert a.room() and a.admit("10.0.0.1")
    a.reset()  # a new incarnation of processor a: its connections died with the old one
    assert b._total() == 1 and b._from(address_key("10.0.0.1")) == 0


def test_slots_of_closed_addresses_are_reclaimed():
    """Many short connections from ever new addresses: the table is rebuilt, never full, and
    the other processor still sees the addresses that hold connections."""
    a, b = _shared(ConnectionLimits(per_ip=1))
    assert a.admit("192.168.0.1")
    for i in range(3 * cq.SLOTS):
        host = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        assert a.admit(host)
        a.release(host)
    assert a.rebuilds > 0 and a.overflows == 0
    assert not b.admit("192.168.0.1")
    assert b.admit("10.0.0.1")  # released long ago by a


def test_past_the_table_addresses_go_unpublished_with_a_warning(caplog, monkeypatch):
    monkeypatch.setattr(cq, "SLOTS", 64)
    a, b = _shared(ConnectionLimits(per_ip=1))
    hosts = [f"10.0.{i >> 8}.{i & 255}" for i in range(100)]
    with caplog.at_level(logging.WARNING, logger=cq.__name__):
        for host in hosts:
            assert a.admit(host)
    assert a.overflows > 0 and "more client addresses than one processor can publish" in caplog.text
    seen = sum(not b.admit(h) for h in hosts)
    assert 100 - a.overflows == seen  # every published address is refused at b, the rest admitted


def test_reject_log_says_one_line_per_period(caplog):
    now = [0.0]
    rejects = cq.RejectLog(clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger=cq.__name__):
        for _ in range(5):
            rejects.note("10.0.0.1", 2)
        now[0] += cq.REJECT_LOG_EVERY_S
        rejects.note("10.0.0.1", 2)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and rejects.rejected == 6
    assert "(5 rejected since the last such line)" in lines[1]
