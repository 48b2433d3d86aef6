"""How a broker reaches the others (cluster/broker_client.py InterBrokerSecurity): the endpoint of
the inter-broker listener in a registration, its TLS client context and SASL login from Kafka's
properties, and a start-up refused, with the reason, when the login is not configured."""

import subprocess
import sys

import pytest

from hpbroker.cluster.broker_client import InterBrokerSecurity
from hpbroker.cluster.zk_data import EndPoint
from hpbroker.config import BrokerConfig
from hpbroker.configdef.types import ConfigError
from hpbroker.security.sasl_client import SaslCredentials
from tests.security.certs import make_certs

JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="pw";'


def test_the_named_listener_with_its_tls_and_sasl_login(tmp_path):
    certs = make_certs(str(tmp_path))
    config = BrokerConfig(
        {
            "listeners": "PLAINTEXT://:9092,INTERNAL://:9093",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL",
            "inter.broker.listener.name": "INTERNAL",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.internal.scram-sha-512.sasl.jaas.config": JAAS,
            "ssl.truststore.type": "PEM",
            "listener.name.internal.ssl.truststore.location": certs.ca,
        }
    )
    security = InterBrokerSecurity.from_config(config)
    assert (security.listener_name, security.security_protocol) == ("INTERNAL", "SASL_SSL")
    assert security.sasl == SaslCredentials("SCRAM-SHA-512", "broker", "pw")
    assert security.ssl_context is not None and security.ssl_context.check_hostname
    endpoints = (EndPoint("PLAINTEXT", "b1", 9092, "PLAINTEXT"), EndPoint("INTERNAL", "10.0.0.1", 9093, "SASL_SSL"))
    assert security.address(endpoints) == ("10.0.0.1", 9093)
    assert security.address([("PLAINTEXT", "b1", 9092), ("INTERNAL", "10.0.0.1", 9093)]) == ("10.0.0.1", 9093)
    assert security.address(endpoints[:1]) is None  # the other broker does not listen for brokers


def test_plaintext_by_default():
    security = InterBrokerSecurity.from_config(BrokerConfig({"listeners": "PLAINTEXT://:9092"}))
    assert (security.listener_name, security.ssl_context, security.sasl) == ("PLAINTEXT", None, None)


def test_a_sasl_listener_without_the_brokers_credentials_is_refused():
    config = BrokerConfig({"listeners": "SASL_PLAINTEXT://:9092", "security.inter.broker.protocol": "SASL_PLAINTEXT"})
    with pytest.raises(ConfigError, match="sasl.mechanism.inter.broker.protocol GSSAPI"):
        InterBrokerSecurity.from_config(config)


def test_a_cluster_broker_refuses_to_start_without_its_login(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "hpbroker", "--data-dir", str(tmp_path)]
        + ["--override", "zookeeper.connect=127.0.0.1:1", "--override", "listeners=SASL_PLAINTEXT://127.0.0.1:0"]
        + ["--override", "security.inter.broker.protocol=SASL_PLAINTEXT"]
        + ["--override", "sasl.mechanism.inter.broker.protocol=PLAIN"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "listener.name.sasl_plaintext.plain.sasl.jaas.config must give the broker's username" in done.stderr
