"""TLS settings as Kafka takes them (hpbroker/security/tls.py, principal_mapping.py)."""

import ssl

import pytest

from hpbroker.config import BrokerConfig, ConfigError
from hpbroker.security import principal_mapping as pm
from hpbroker.security import tls
from hpbroker.server import listeners
from tests.security.certs import make_certs


def test_distinguished_names_are_written_as_java_writes_them():
    subject = ((("countryName", "US"),), (("organizationName", "A, Inc"),), (("commonName", "alice"),))
    assert pm.distinguished_name(subject) == "CN=alice,O=A\\, Inc,C=US"


def test_mapping_rules_first_match_wins_and_default_keeps_the_dn():
    rules = pm.parse_rules(
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,"
        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U,DEFAULT"
    )
    assert pm.principal_name("CN=Duke,OU=JavaSoft,O=Sun,L=Cupertino,ST=CA,C=US", rules) == "duke@javasoft"
    assert pm.principal_name("CN=alice,O=x", rules) == "ALICE"
    assert pm.principal_name("O=x", rules) == "O=x"
    with pytest.raises(pm.NoMatchingRule):
        pm.principal_name("O=x", pm.parse_rules("RULE:^CN=(.*)$/$1/"))
    with pytest.raises(ConfigError):
        BrokerConfig({"ssl.principal.mapping.rules": "RULE:broken"})


def test_iana_cipher_names_become_openssl_names():
    assert tls.openssl_cipher_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == "ECDHE-RSA-AES128-GCM-SHA256"
    assert tls.openssl_cipher_name("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256") == "ECDHE-ECDSA-CHACHA20-POLY1305"
    assert tls.openssl_cipher_name("TLS_RSA_WITH_AES_256_GCM_SHA384") == "AES256-GCM-SHA384"


def _listener(config, name="SSL"):
    return listeners.from_config(config).listener(name)


def test_server_context_from_pem_stores(tmp_path):
    certs = make_certs(str(tmp_path))
    base = {"listeners": "PLAINTEXT://:0,SSL://:0", "ssl.keystore.type": "PEM", "ssl.keystore.location": certs.broker}
    config = BrokerConfig(
        {
            **base,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": certs.ca,
            "listener.name.ssl.ssl.client.auth": "required",
            "ssl.enabled.protocols": "TLSv1.2",
            "ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        }
    )
    context = tls.server_context(config, _listener(config))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.maximum_version == ssl.TLSVersion.TLSv1_2
    # inline key and chain, as ssl.keystore.key / ssl.keystore.certificate.chain
    inline = BrokerConfig(
        {
            "listeners": "PLAINTEXT://:0,SSL://:0",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.key": open(certs.broker_key).read(),
            "ssl.keystore.certificate.chain": open(certs.broker_cert).read(),
        }
    )
    assert tls.server_context(inline, _listener(inline)).verify_mode == ssl.CERT_NONE


def test_what_a_tls_listener_refuses_at_start_up(tmp_path):
    certs = make_certs(str(tmp_path))
    for props, message in (
        ({}, "ssl.keystore.location"),
        ({"ssl.keystore.location": certs.broker}, "PEM key stores only"),
        ({"ssl.keystore.type": "PEM", "ssl.keystore.location": "/nonexistent.pem"}, "cannot load the key store"),
        (
            {"ssl.keystore.type": "PEM", "ssl.keystore.location": certs.broker, "ssl.enabled.protocols": "SSLv3"},
            "unknown protocol",
        ),
    ):
        config = BrokerConfig({"listeners": "PLAINTEXT://:0,SSL://:0", **props})
        with pytest.raises(ConfigError, match=message):
            tls.server_context(config, _listener(config))
