"""The rest of the broker properties Kafka lets an operator change at run time (Kafka 3.6's
DynamicBrokerConfig.AllDynamicConfigs, with DynamicConfig.Broker's replication quotas), which
hpbroker has no use for: TLS and SASL, thread pools it does not have, quotas and reporters.

They are here so that AlterConfigs, IncrementalAlterConfigs and DescribeConfigs treat them as
Kafka does: values checked by Kafka's types and validators, stored per broker or cluster-wide,
reported with their source. Nothing in hpbroker acts on them.

``ssl.keystore.*``, ``ssl.key.password`` and ``ssl.truststore.*`` (``LISTENER_ONLY``) change at
run time only under a listener's prefix (``listener.name.<listener>.ssl.keystore.location``), as
in Kafka.
"""

from __future__ import annotations

from hpbroker.configdef import checks
from hpbroker.configdef.types import (
    CLUSTER_WIDE,
    MAX_INT,
    MAX_LONG,
    NO_EFFECT,
    PER_BROKER,
    READ_ONLY,
    STATIC_ONLY,
    TYPE_BOOLEAN,
    TYPE_CLASS,
    TYPE_DOUBLE,
    TYPE_INT,
    TYPE_LIST,
    TYPE_LONG,
    TYPE_PASSWORD,
    TYPE_SHORT,
    TYPE_STRING,
    BrokerConfigDef,
    at_least,
    one_of,
)

_NO_TLS = " No effect: hpbroker's TLS is OpenSSL's, through Python's ssl module."
_NO_SASL = " No effect: hpbroker offers PLAIN and SCRAM, not Kerberos or OAuth."
_LISTENER = " May be set per listener (listener.name.<listener>.<property>); read at start-up."


def _kafka(name, config_type, default, doc, check=None, mode=PER_BROKER, effect=NO_EFFECT) -> BrokerConfigDef:
    return BrokerConfigDef(
        name=name, config_type=config_type, default=default, doc=doc, check=check, effect=effect, mode=mode
    )


def _tls(name, config_type, default, what, check=None) -> BrokerConfigDef:
    return _kafka(name, config_type, default, what + _NO_TLS, check)


def _applied(name, config_type, default, what, check=None) -> BrokerConfigDef:
    """A TLS or SASL property hpbroker acts on, per listener, from the properties file."""
    return _kafka(name, config_type, default, what + _LISTENER, check, effect=STATIC_ONLY)


def _sasl(name, config_type, default, what, check=None) -> BrokerConfigDef:
    return _kafka(name, config_type, default, what + _NO_SASL, check)


#: Kafka's DynamicSecurityConfigs: dynamic only with a listener prefix
LISTENER_ONLY = frozenset(
    {
        "ssl.keystore.type",
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.key.password",
        "ssl.truststore.type",
        "ssl.truststore.location",
        "ssl.truststore.password",
        "ssl.keystore.certificate.chain",
        "ssl.keystore.key",
        "ssl.truststore.certificates",
    }
)

#: listener configs that may be set cluster-wide (the rest of a listener's are per broker)
CLUSTER_LEVEL_LISTENER_CONFIGS = frozenset({"max.connections", "max.connection.creation.rate", "num.network.threads"})

BROKER_KAFKA: tuple[BrokerConfigDef, ...] = (
    # TLS (Kafka's SslConfigs and BrokerSecurityConfigs) -----------------------------------------
    _tls("ssl.protocol", TYPE_STRING, "TLSv1.3", "TLS protocol of the SSL context (ssl.enabled.protocols decides)."),
    _tls("ssl.provider", TYPE_STRING, None, "Security provider of the SSL context."),
    _applied(
        "ssl.cipher.suites",
        TYPE_LIST,
        "",
        "Cipher suites allowed, by Kafka's (IANA) names (TLS 1.2 suites are translated to OpenSSL's); empty: "
        "OpenSSL's defaults. A list without a TLS 1.3 suite keeps connections to TLS 1.2.",
    ),
    _applied(
        "ssl.enabled.protocols",
        TYPE_LIST,
        "TLSv1.2,TLSv1.3",
        "TLS protocols a connection may use (the lowest and highest named bound the handshake).",
    ),
    _applied(
        "ssl.keystore.type",
        TYPE_STRING,
        "JKS",
        "Format of the key store: hpbroker reads PEM (set PEM; JKS and PKCS12 are refused at start-up).",
    ),
    _applied(
        "ssl.keystore.location",
        TYPE_STRING,
        None,
        "PEM file holding the broker's private key and certificate chain (a TLS listener needs it, or "
        "ssl.keystore.key and ssl.keystore.certificate.chain).",
    ),
    _tls("ssl.keystore.password", TYPE_PASSWORD, None, "Password of the key store (PEM files have none)."),
    _applied("ssl.key.password", TYPE_PASSWORD, None, "Password of an encrypted private key."),
    _applied("ssl.keystore.key", TYPE_PASSWORD, None, "The private key in PEM, inline."),
    _applied("ssl.keystore.certificate.chain", TYPE_PASSWORD, None, "The certificate chain in PEM, inline."),
    _applied("ssl.truststore.type", TYPE_STRING, "JKS", "Format of the trust store: hpbroker reads PEM."),
    _applied(
        "ssl.truststore.location",
        TYPE_STRING,
        None,
        "PEM file of the certificates that client certificates must chain to (ssl.client.auth).",
    ),
    _tls("ssl.truststore.password", TYPE_PASSWORD, None, "Password of the trust store (PEM files have none)."),
    _applied("ssl.truststore.certificates", TYPE_PASSWORD, None, "Trusted certificates in PEM, inline."),
    _tls("ssl.keymanager.algorithm", TYPE_STRING, "SunX509", "Key manager factory algorithm."),
    _tls("ssl.trustmanager.algorithm", TYPE_STRING, "PKIX", "Trust manager factory algorithm."),
    _applied(
        "ssl.endpoint.identification.algorithm",
        TYPE_STRING,
        "https",
        "https: the broker's own TLS connections (to other brokers) check the server's host name against its "
        "certificate; empty: they do not. Clients check the broker's themselves.",
    ),
    _tls("ssl.secure.random.implementation", TYPE_STRING, None, "SecureRandom implementation for TLS."),
    _applied(
        "ssl.client.auth",
        TYPE_STRING,
        "none",
        "Whether clients must present a certificate: required, requested (verified if given) or none. On a "
        "SASL_SSL listener only the listener-prefixed value counts, as in Kafka.",
        one_of("required", "requested", "none"),
    ),
    _kafka(
        "ssl.principal.mapping.rules",
        TYPE_STRING,
        "DEFAULT",
        "How a client certificate's distinguished name (RFC 2253) becomes the principal's name: "
        "RULE:pattern/replacement/[L|U],... then DEFAULT (the whole DN), first match wins; a DN no rule "
        "matches is refused. May be set per listener (listener.name.<listener>.<property>).",
        checks.principal_mapping_rules,
        READ_ONLY,
        STATIC_ONLY,
    ),
    _tls("ssl.engine.factory.class", TYPE_CLASS, None, "Class that builds SSL engines."),
    _kafka(
        "principal.builder.class",
        TYPE_CLASS,
        "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder",
        "Class that builds a connection's principal. No effect: hpbroker builds principals as Kafka's default "
        "builder (User:<SASL name>, User:<mapped certificate DN>, User:ANONYMOUS).",
    ),
    # SASL (Kafka's SaslConfigs and BrokerSecurityConfigs) ---------------------------------------
    _applied(
        "sasl.mechanism.inter.broker.protocol",
        TYPE_STRING,
        "GSSAPI",
        "SASL mechanism a broker logs in to other brokers with on a SASL inter-broker listener (PLAIN, "
        "SCRAM-SHA-256, SCRAM-SHA-512), with the username and password of "
        "listener.name.<listener>.<mechanism>.sasl.jaas.config.",
    ),
    _sasl(
        "sasl.jaas.config",
        TYPE_PASSWORD,
        None,
        "JAAS login context of the broker. A broker takes it per mechanism and listener, as Kafka: "
        "listener.name.<listener>.plain.sasl.jaas.config names PLAIN's users (PlainLoginModule required "
        'user_alice="alice-secret";), listener.name.<listener>.scram-sha-256.sasl.jaas.config its own SCRAM '
        "credentials (username, password) for connections to other brokers.",
    ),
    _applied(
        "sasl.enabled.mechanisms",
        TYPE_LIST,
        "GSSAPI",
        "SASL mechanisms a SASL listener offers: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (Kafka's default GSSAPI "
        "is refused at start-up: set this on a SASL listener).",
    ),
    _kafka(
        "sasl.server.max.receive.size",
        TYPE_INT,
        "524288",
        "Largest frame a client may send before it is authenticated; a larger size prefix closes the "
        "connection before anything is buffered.",
        None,
        READ_ONLY,
        STATIC_ONLY,
    ),
    _kafka(
        "connection.failed.authentication.delay.ms",
        TYPE_INT,
        "100",
        "A refused SASL authentication is answered (and the connection closed) this long after the refusal, "
        "to slow down password guessing.",
        at_least(0),
        READ_ONLY,
        STATIC_ONLY,
    ),
    _kafka(
        "connections.max.reauth.ms",
        TYPE_LONG,
        "0",
        "KIP-368: a SASL session lasts this long (told to the client in SaslAuthenticate v1+); a connection "
        "that has not re-authenticated by then may send only SASL requests, anything else closes it. 0: "
        "sessions never expire.",
        None,
        READ_ONLY,
        STATIC_ONLY,
    ),
    _sasl("sasl.kerberos.service.name", TYPE_STRING, None, "Kerberos principal name of the broker."),
    _sasl("sasl.kerberos.kinit.cmd", TYPE_STRING, "/usr/bin/kinit", "Path of kinit."),
    _sasl(
        "sasl.kerberos.ticket.renew.window.factor",
        TYPE_DOUBLE,
        "0.8",
        "Share of a ticket's lifetime after which it is renewed.",
    ),
    _sasl("sasl.kerberos.ticket.renew.jitter", TYPE_DOUBLE, "0.05", "Random jitter added to the renewal time."),
    _sasl("sasl.kerberos.min.time.before.relogin", TYPE_LONG, "60000", "Least time between two logins."),
    _sasl(
        "sasl.kerberos.principal.to.local.rules",
        TYPE_LIST,
        "DEFAULT",
        "Rules that map Kerberos principals to short names.",
    ),
    _sasl(
        "sasl.login.refresh.window.factor",
        TYPE_DOUBLE,
        "0.8",
        "Share of a credential's lifetime after which it is refreshed.",
    ),
    _sasl("sasl.login.refresh.window.jitter", TYPE_DOUBLE, "0.05", "Random jitter added to the refresh time."),
    _sasl("sasl.login.refresh.min.period.seconds", TYPE_SHORT, "60", "Least time between two refreshes."),
    _sasl(
        "sasl.login.refresh.buffer.seconds",
        TYPE_SHORT,
        "300",
        "Time to keep before a credential expires when refreshing it.",
    ),
    # thread pools, reporters, quotas ----------------------------------------------------------
    _kafka(
        "num.replica.fetchers",
        TYPE_INT,
        "1",
        "Fetcher threads per source broker. No effect: a follower here fetches from each leader over one connection.",
        None,
        CLUSTER_WIDE,
    ),
    _kafka(
        "num.recovery.threads.per.data.dir",
        TYPE_INT,
        "1",
        "Threads that recover logs at start-up. No effect: each process recovers the logs it owns itself.",
        at_least(1),
        CLUSTER_WIDE,
    ),
    _kafka(
        "background.threads",
        TYPE_INT,
        "10",
        "Threads of Kafka's background tasks. No effect: hpbroker runs them on each process's event loop.",
        at_least(1),
        CLUSTER_WIDE,
    ),
    _kafka(
        "log.cleaner.threads",
        TYPE_INT,
        "1",
        "Log cleaner threads. No effect: each process that owns partitions has one cleaner thread.",
        at_least(0),
        CLUSTER_WIDE,
    ),
    _kafka(
        "log.cleaner.dedupe.buffer.size",
        TYPE_LONG,
        "134217728",
        "Memory of the cleaners' key maps. No effect: the cleaner sizes its map to the log it cleans.",
        None,
        CLUSTER_WIDE,
    ),
    _kafka(
        "log.cleaner.io.buffer.size",
        TYPE_INT,
        "524288",
        "Cleaner I/O buffer memory. No effect.",
        at_least(0),
        CLUSTER_WIDE,
    ),
    _kafka(
        "log.cleaner.io.buffer.load.factor",
        TYPE_DOUBLE,
        "0.9",
        "Fill factor of the cleaners' key maps. No effect.",
        None,
        CLUSTER_WIDE,
    ),
    _kafka(
        "log.cleaner.io.max.bytes.per.second",
        TYPE_DOUBLE,
        "1.7976931348623157E308",
        "Throttle of the cleaners' reads and writes. No effect: the cleaner is not throttled.",
        None,
        CLUSTER_WIDE,
    ),
    _kafka(
        "max.connection.creation.rate",
        TYPE_INT,
        str(MAX_INT),
        "Connections accepted per second. No effect: only the counts (max.connections ...) are limited.",
        at_least(0),
        CLUSTER_WIDE,
    ),
    _kafka(
        "metric.reporters",
        TYPE_LIST,
        "",
        "Metrics reporter classes. No effect: hpbroker has no JMX metrics.",
        None,
        CLUSTER_WIDE,
    ),
    _kafka(
        "producer.id.expiration.ms",
        TYPE_INT,
        "86400000",
        "Idle time after which a producer id's state is dropped. No effect: producer state is kept.",
        at_least(1),
        CLUSTER_WIDE,
    ),
    _kafka(
        "transaction.partition.verification.enable",
        TYPE_BOOLEAN,
        "true",
        "No effect: partition leaders do not ask the transaction coordinator to verify a transactional "
        "batch before appending it (KIP-890).",
        None,
        CLUSTER_WIDE,
    ),
    _kafka(
        "leader.replication.throttled.rate",
        TYPE_LONG,
        str(MAX_LONG),
        "Replication throttle of leaders (set by kafka-reassign-partitions --throttle). No effect: "
        "replication here is not throttled.",
        at_least(0),
        CLUSTER_WIDE,
    ),
    _kafka(
        "follower.replication.throttled.rate",
        TYPE_LONG,
        str(MAX_LONG),
        "Replication throttle of followers. No effect: replication here is not throttled.",
        at_least(0),
        CLUSTER_WIDE,
    ),
    _kafka(
        "replica.alter.log.dirs.io.max.bytes.per.second",
        TYPE_LONG,
        str(MAX_LONG),
        "Throttle of moves between log directories. No effect: there are none.",
        at_least(0),
        CLUSTER_WIDE,
    ),
)
