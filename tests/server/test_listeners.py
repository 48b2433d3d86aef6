"""The listener model (hpbroker/server/listeners.py): Kafka's listener syntax, protocol map,
advertised listeners, listener-prefixed settings and the inter-broker listener."""

import pytest

from hpbroker.config import BrokerConfig, ConfigError
from hpbroker.server import listeners


def test_each_listener_takes_its_protocol_from_the_map():
    config = BrokerConfig(
        {
            "listeners": "PLAINTEXT://:9092,SECURE://127.0.0.1:9093,internal://[::1]:9094",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL,INTERNAL:SSL",
            "inter.broker.listener.name": "INTERNAL",
        }
    )
    lc = listeners.from_config(config)
    assert [(lst.name, lst.host, lst.port, lst.security_protocol) for lst in lc.listeners] == [
        ("PLAINTEXT", "", 9092, "PLAINTEXT"),
        ("SECURE", "127.0.0.1", 9093, "SASL_SSL"),
        ("INTERNAL", "::1", 9094, "SSL"),
    ]
    assert lc.listener("SECURE").tls and lc.listener("SECURE").sasl
    assert not lc.listener("INTERNAL").sasl and lc.listener("INTERNAL").tls
    assert lc.inter_broker.name == "INTERNAL"
    assert str(lc.listener("INTERNAL")) == "INTERNAL://[::1]:9094"


def test_advertised_listeners_default_to_the_bound_ports():
    config = BrokerConfig({"listeners": "PLAINTEXT://127.0.0.1:0,SSL://:0"})
    bound = listeners.from_config(config).bound({"PLAINTEXT": 4000, "SSL": 4001})
    names = [e[0] for e in bound.endpoints()]
    assert names == ["PLAINTEXT", "SSL"]
    assert bound.endpoints()[0] == ("PLAINTEXT", "127.0.0.1", 4000)
    assert bound.endpoints()[1][2] == 4001 and bound.endpoints()[1][1] not in ("0.0.0.0", "")


def test_advertised_listeners_name_a_subset():
    config = BrokerConfig({"listeners": "PLAINTEXT://:0,SSL://:0", "advertised.listeners": "PLAINTEXT://broker1:9092"})
    bound = listeners.from_config(config).bound({"PLAINTEXT": 5, "SSL": 6})
    assert bound.endpoints() == (("PLAINTEXT", "broker1", 9092),)


def test_inter_broker_listener_from_the_protocol_or_the_name():
    config = BrokerConfig({"listeners": "PLAINTEXT://:9092,SSL://:9093", "security.inter.broker.protocol": "SSL"})
    assert listeners.from_config(config).inter_broker.name == "SSL"
    assert listeners.from_config(BrokerConfig({})).inter_broker.name == "PLAINTEXT"
    with pytest.raises(ConfigError, match="Only one of inter.broker.listener.name and security.inter.broker"):
        listeners.from_config(
            BrokerConfig(
                {
                    "listeners": "PLAINTEXT://:9092,SSL://:9093",
                    "inter.broker.listener.name": "PLAINTEXT",
                    "security.inter.broker.protocol": "SSL",
                }
            )
        )
    with pytest.raises(ConfigError, match="inter.broker.listener.name must be a listener name"):
        BrokerConfig({"listeners": "SSL://:9093"})  # PLAINTEXT is the default inter-broker listener


def test_two_listeners_on_one_port_are_refused():
    with pytest.raises(ConfigError, match="different port"):
        listeners.from_config(BrokerConfig({"listeners": "PLAINTEXT://:9092,SSL://:9092"}))


def test_listener_prefixed_values_win():
    config = BrokerConfig(
        {
            "listeners": "PLAINTEXT://:9092,SSL://:9093",
            "ssl.client.auth": "requested",
            "listener.name.ssl.ssl.client.auth": "required",
        }
    )
    lc = listeners.from_config(config)
    assert listeners.listener_value(config, lc.listener("SSL"), "ssl.client.auth") == "required"
    assert listeners.listener_value(config, lc.listener("PLAINTEXT"), "ssl.client.auth") == "requested"
    assert listeners.listener_value(config, None, "ssl.client.auth") == "requested"


def test_host_and_port_flags_replace_the_first_listener_only():
    value = listeners.replace_first_address("SSL://:9093,PLAINTEXT://h:9092", "127.0.0.1", 0)
    assert value == "SSL://127.0.0.1:0,PLAINTEXT://h:9092"
