"""The broker properties hpbroker acts on, and the topic defaults (``log.*``): type, default,
validator (Kafka's KafkaConfig), update mode, and what each does here.

Values are read, in rising precedence: the default here, the properties file (``--config``) and
command-line flags, the cluster-wide dynamic default (AlterConfigs on broker ""), this broker's
dynamic value (AlterConfigs on its id). A read-only property changes only with a restart.
"""

from __future__ import annotations

from hpbroker.configdef import checks
from hpbroker.configdef.topic import TOPIC_CONFIGS
from hpbroker.configdef.types import (
    APPLIED,
    CLUSTER_WIDE,
    MAX_INT,
    NO_EFFECT,
    PER_BROKER,
    READ_ONLY,
    STATIC_ONLY,
    TYPE_BOOLEAN,
    TYPE_INT,
    TYPE_LONG,
    TYPE_SHORT,
    TYPE_STRING,
    BrokerConfigDef,
    Check,
    at_least,
)


def broker(name, config_type, default, doc, check=None, mode=READ_ONLY, effect=APPLIED) -> BrokerConfigDef:
    return BrokerConfigDef(
        name=name, config_type=config_type, default=default, doc=doc, check=check, effect=effect, mode=mode
    )


def topic_default(name: str, doc: str | None = None, mode: str = CLUSTER_WIDE, **kw) -> BrokerConfigDef:
    """A broker property that is the default of a topic config: its type, default, validator and
    effect are the topic config's (a value a topic would refuse stops the broker's start, as Kafka
    fails to build its default log config)."""
    t = next(t for t in TOPIC_CONFIGS.values() if t.broker_property == name)
    fields = dict(config_type=t.config_type, default=t.default, check=t.check, effect=t.effect)
    fields.update(kw)
    return BrokerConfigDef(
        name=name, doc=doc or f"The default of the topic config `{t.name}`. {t.doc}", mode=mode, **fields
    )


def _buffer(v: int) -> str | None:
    return None if v == -1 or v > 0 else "Value must be -1 (the kernel's size) or at least 1"


SERVER = (
    broker(
        "broker.id",
        TYPE_INT,
        "0",
        "This broker's id: the node id in Metadata, the name of its BROKER config resource, and in a "
        "cluster its registration in ZooKeeper (/brokers/ids/<id>). -1 (an id generated through "
        "ZooKeeper) is refused: hpbroker generates none.",
        at_least(0),
    ),
    broker(
        "node.id",
        TYPE_INT,
        "-1",
        "The broker's id instead of broker.id, when at least 0 (Kafka's KRaft name for it; -1: unset).",
        at_least(-1),
    ),
    broker(
        "listeners",
        TYPE_STRING,
        "PLAINTEXT://127.0.0.1:9092",
        "Where the broker listens: NAME://host:port,... (an empty host is every interface, port 0 any free "
        "port). Each listener speaks the security protocol listener.security.protocol.map gives its name "
        "(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) and takes its own settings under "
        "listener.name.<name>.<property>. A dynamic value is checked, stored and reported, and the broker "
        "keeps listening where it started.",
        checks.listeners,
        PER_BROKER,
        STATIC_ONLY,
    ),
    broker(
        "advertised.listeners",
        TYPE_STRING,
        None,
        "The address Metadata gives clients for each listener (NAME://host:port, names a subset of "
        "listeners'): a client is answered with the endpoints of the listener it connected to. Unset: each "
        "listener's own host and bound port (the machine's host name for an empty or wildcard host). A "
        "dynamic value is stored and reported, not applied.",
        checks.listeners,
        PER_BROKER,
        STATIC_ONLY,
    ),
    broker(
        "listener.security.protocol.map",
        TYPE_STRING,
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        "Listener name -> security protocol (every listener needs an entry, as in Kafka). A dynamic value is "
        "checked, stored and reported, not applied.",
        checks.protocol_map,
        PER_BROKER,
        STATIC_ONLY,
    ),
    broker(
        "inter.broker.listener.name",
        TYPE_STRING,
        None,
        "The listener brokers use among themselves (replica fetches, controller requests); one of "
        "advertised.listeners. Unset: the listener named after security.inter.broker.protocol. Only one of "
        "the two may be set.",
    ),
    broker(
        "security.inter.broker.protocol",
        TYPE_STRING,
        "PLAINTEXT",
        "The security protocol between brokers when inter.broker.listener.name is not set: the listener of "
        "that name is used.",
        checks.security_protocol,
    ),
    broker(
        "log.dirs",
        TYPE_STRING,
        "./data",
        "Comma-separated data directories. Every partition lives in the first; the topic registry "
        "(__topics.json) is kept there too.",
    ),
    broker(
        "log.dir",
        TYPE_STRING,
        None,
        "The data directory when log.dirs is not set (Kafka's "
        "/tmp/kafka-logs default is not hpbroker's: it is log.dirs').",
    ),
    broker(
        "inter.broker.protocol.version",
        TYPE_STRING,
        "3.6-IV2",
        "No effect: hpbroker runs one node and speaks one protocol. Every version Kafka 3.x takes is taken "
        "(0.10.0, 0.10.0.1, 2.8, 3.0-IV1 ...).",
        checks.metadata_version,
        effect=NO_EFFECT,
    ),
    broker(
        "socket.request.max.bytes",
        TYPE_INT,
        "104857600",
        "Largest request a client may send; a larger size prefix closes the connection, as in Kafka.",
        at_least(1),
    ),
    broker(
        "socket.send.buffer.bytes",
        TYPE_INT,
        "102400",
        "SO_SNDBUF of each accepted connection (-1: the kernel's autotuned size). Kafka takes any int; 0 "
        "and other negatives, which fail every connection there, are refused here.",
        Check("[-1] or [1,...]", _buffer),
    ),
    broker(
        "socket.receive.buffer.bytes",
        TYPE_INT,
        "-1",
        "SO_RCVBUF of the listening socket, inherited by accepted connections (-1: the kernel's "
        "autotuned size). Kafka's default is 102400; -1 here because a fixed receive buffer made a 1 KB "
        'Produce cost 70% more CPU per GB (tuning.md, "Socket buffers").',
        Check("[-1] or [1,...]", _buffer),
    ),
    broker(
        "connections.max.idle.ms",
        TYPE_LONG,
        "600000",
        "A connection that sent nothing for this long is closed. -1: never.",
    ),
    broker(
        "socket.connection.setup.timeout.ms",
        TYPE_LONG,
        "10000",
        "How long a new connection may take to become ready: a client that has not finished its TLS handshake "
        "(and its SASL authentication) by then is disconnected. Kafka's clients and brokers use it for their "
        "own outgoing connections in the same sense.",
        at_least(0),
    ),
    broker(
        "num.network.threads",
        TYPE_INT,
        None,
        "Processor processes (they own the connections); unset, with num.io.threads unset too: one per "
        "core. Same as --processors. A dynamic value is checked, stored and reported, not applied.",
        at_least(1),
        CLUSTER_WIDE,
        STATIC_ONLY,
    ),
    broker(
        "num.io.threads",
        TYPE_INT,
        None,
        "Handler processes (they own the partitions); 0 runs everything in one process. Unset, with "
        "num.network.threads unset too: one per core. Same as --handlers. Kafka requires at least 1. A "
        "dynamic value is checked, stored and reported, not applied.",
        at_least(0),
        CLUSTER_WIDE,
        STATIC_ONLY,
    ),
    broker(
        "max.connections",
        TYPE_INT,
        str(MAX_INT),
        "Connections the broker holds at once; at the limit, new ones wait in the listen backlog.",
        at_least(0),
        CLUSTER_WIDE,
    ),
    broker(
        "max.connections.per.ip",
        TYPE_INT,
        str(MAX_INT),
        "Connections from one client address at once; one more is accepted and closed at once. 0 needs "
        "max.connections.per.ip.overrides (only the hosts named there may connect).",
        at_least(0),
        CLUSTER_WIDE,
    ),
    broker(
        "max.connections.per.ip.overrides",
        TYPE_STRING,
        "",
        "host:count,...: max.connections.per.ip for the hosts named (a host name stands for every address "
        "it resolves to, resolved when the limits are built).",
        checks.connection_overrides,
        CLUSTER_WIDE,
    ),
    # authorization ----------------------------------------------------------------------------
    broker(
        "authorizer.class.name",
        TYPE_STRING,
        "",
        "The ACL authorizer (docs/security.md): kafka.security.authorizer.AclAuthorizer (Kafka's other "
        "authorizer names, kafka.security.auth.SimpleAclAuthorizer and "
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer, select the same one). Empty: no "
        "authorization, and the ACL requests answer SECURITY_DISABLED.",
    ),
    broker(
        "super.users",
        TYPE_STRING,
        None,
        "Principals the authorizer allows everything, separated by semicolons (User:admin;User:broker).",
    ),
    broker(
        "allow.everyone.if.no.acl.found",
        TYPE_BOOLEAN,
        "false",
        "With an authorizer: whether a resource no ACL names is open to every principal (false: only to super users).",
    ),
    broker(
        "metrics.port",
        TYPE_INT,
        "0",
        "HTTP port of the metrics endpoint (/metrics, Prometheus' text format with Kafka's metric names) "
        "and the web console (/), on the host of the first listener; 0: neither is served. "
        "docs/operations.md lists the metrics.",
        at_least(0),
    ),
    # topics -----------------------------------------------------------------------------------
    broker(
        "num.partitions",
        TYPE_INT,
        "1",
        "Partitions of a topic created without a count (CreateTopics with -1, auto-creation).",
        at_least(1),
    ),
    broker(
        "default.replication.factor",
        TYPE_INT,
        "1",
        "Replication factor of a topic created without one. Above the number of live brokers such "
        "creations fail with INVALID_REPLICATION_FACTOR (on a single node: any factor above 1).",
    ),
    broker(
        "auto.create.topics.enable",
        TYPE_BOOLEAN,
        "true",
        "Metadata for an unknown topic creates it (num.partitions), when the client allows it.",
    ),
    broker("delete.topic.enable", TYPE_BOOLEAN, "true", "false: DeleteTopics is refused with TOPIC_DELETION_DISABLED."),
    # groups and offsets -----------------------------------------------------------------------
    broker(
        "offsets.topic.num.partitions",
        TYPE_INT,
        "50",
        "Partitions of __consumer_offsets, made when the first group needs it.",
        at_least(1),
    ),
    broker(
        "offsets.retention.minutes",
        TYPE_INT,
        "10080",
        "Committed offsets of an empty group (or of a partition its members no longer consume) expire "
        "this long after their commit.",
        at_least(1),
    ),
    broker(
        "offsets.retention.check.interval.ms",
        TYPE_LONG,
        "600000",
        "How often expired offsets are looked for.",
        at_least(1),
    ),
    broker(
        "group.initial.rebalance.delay.ms",
        TYPE_INT,
        "3000",
        "How long the first rebalance of a new group waits for more members (prolonged as members keep "
        "joining, up to the rebalance timeout).",
    ),
    broker(
        "group.min.session.timeout.ms",
        TYPE_INT,
        "6000",
        "A JoinGroup with a shorter session timeout is refused (INVALID_SESSION_TIMEOUT).",
    ),
    broker(
        "group.max.session.timeout.ms",
        TYPE_INT,
        "1800000",
        "A JoinGroup with a longer session timeout is refused (INVALID_SESSION_TIMEOUT).",
    ),
    broker(
        "group.max.size",
        TYPE_INT,
        str(MAX_INT),
        "Members a group may hold; one more is refused (GROUP_MAX_SIZE_REACHED).",
        at_least(1),
    ),
    broker(
        "transactional.id.expiration.ms",
        TYPE_INT,
        "604800000",
        "A transactional id whose last transaction ended this long ago (no new one since) is deleted "
        "from __transaction_state; its next InitProducerId starts afresh with a new producer id.",
        at_least(1),
    ),
    broker(
        "transaction.max.timeout.ms",
        TYPE_INT,
        "900000",
        "The longest transaction.timeout.ms a producer may ask for; InitProducerId with a longer one is "
        "refused (INVALID_TRANSACTION_TIMEOUT).",
        at_least(1),
    ),
    broker(
        "transaction.state.log.num.partitions",
        TYPE_INT,
        "50",
        "Partitions of __transaction_state, made when the first transactional producer needs it.",
        at_least(1),
    ),
    broker(
        "transaction.state.log.replication.factor",
        TYPE_SHORT,
        "3",
        "Replication factor of __transaction_state, capped by the live brokers when the topic is created "
        "(as Kafka does; the log says so).",
        at_least(1),
    ),
    broker(
        "transaction.state.log.min.isr",
        TYPE_INT,
        "2",
        "min.insync.replicas of __transaction_state.",
        at_least(1),
    ),
    broker(
        "transaction.state.log.segment.bytes",
        TYPE_INT,
        "104857600",
        "segment.bytes of __transaction_state.",
        at_least(1),
    ),
    broker(
        "transaction.state.log.load.buffer.size",
        TYPE_INT,
        "5242880",
        "No effect: __transaction_state is replayed batch by batch.",
        at_least(1),
        effect=NO_EFFECT,
    ),
    broker(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        TYPE_INT,
        "10000",
        "How often the transaction coordinator looks for transactions open longer than their "
        "transaction.timeout.ms and aborts them (the producer's epoch is bumped: it is fenced).",
        at_least(1),
    ),
    broker(
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        TYPE_INT,
        "3600000",
        "How often transactional ids idle past transactional.id.expiration.ms are deleted.",
        at_least(1),
    ),
)

LOG = (
    topic_default("log.cleanup.policy"),
    topic_default(
        "log.retention.ms",
        check=None,
        doc="The default of the topic config `retention.ms`. Kafka's check: -1 (any negative value) or at "
        "least 1, once the coarser synonyms are counted.",
    ),
    broker("log.retention.minutes", TYPE_INT, None, "log.retention.ms in minutes, when that is not set."),
    broker(
        "log.retention.hours",
        TYPE_INT,
        "168",
        "log.retention.ms in hours, when neither it nor log.retention.minutes is set (Kafka's "
        "server.properties sets 168).",
    ),
    topic_default("log.retention.bytes"),
    broker(
        "log.retention.check.interval.ms",
        TYPE_LONG,
        "300000",
        "No effect: retention is checked every second.",
        at_least(1),
        effect=NO_EFFECT,
    ),
    topic_default("log.segment.bytes"),
    topic_default("log.roll.ms"),
    broker("log.roll.hours", TYPE_INT, "168", "log.roll.ms in hours, when that is not set.", at_least(1)),
    topic_default("log.roll.jitter.ms"),
    broker(
        "log.roll.jitter.hours",
        TYPE_INT,
        "0",
        "log.roll.jitter.ms in hours, when that is not set (no effect, as segment.jitter.ms).",
        at_least(0),
        effect=NO_EFFECT,
    ),
    topic_default("log.index.size.max.bytes"),
    topic_default("log.index.interval.bytes"),
    topic_default("log.flush.interval.messages"),
    topic_default("log.flush.interval.ms"),
    broker(
        "log.flush.scheduler.interval.ms",
        TYPE_LONG,
        str(2**63 - 1),
        "log.flush.interval.ms, when that is not set (Kafka's fallback).",
    ),
    topic_default("log.segment.delete.delay.ms"),
    topic_default("log.preallocate"),
    topic_default("message.max.bytes"),
    topic_default("log.message.timestamp.type"),
    topic_default("log.message.timestamp.before.max.ms"),
    topic_default("log.message.timestamp.after.max.ms"),
    topic_default("log.message.timestamp.difference.max.ms"),
    topic_default("log.message.downconversion.enable"),
    topic_default(
        "log.message.format.version",
        mode=READ_ONLY,
        doc="The default of message.format.version: no effect. Kafka does not let it change at "
        "run time, nor does hpbroker.",
    ),
    topic_default("log.local.retention.ms"),
    topic_default("log.local.retention.bytes"),
    topic_default("min.insync.replicas"),
    topic_default("compression.type"),
    topic_default("compression.gzip.level"),
    topic_default("compression.lz4.level"),
    topic_default("compression.zstd.level"),
    topic_default("unclean.leader.election.enable"),
    # the log cleaner (storage/cleaner.py) -------------------------------------------------------
    broker(
        "log.cleaner.enable",
        TYPE_BOOLEAN,
        "true",
        "false: compacted topics are never cleaned (__consumer_offsets is compacted by the group "
        "coordinator either way).",
    ),
    broker(
        "log.cleaner.backoff.ms",
        TYPE_LONG,
        "15000",
        "When no compacted partition is due for cleaning, how long until the cleaner looks again.",
        at_least(0),
        CLUSTER_WIDE,
    ),
    topic_default("log.cleaner.delete.retention.ms"),
    topic_default("log.cleaner.min.cleanable.ratio"),
    topic_default("log.cleaner.min.compaction.lag.ms"),
    topic_default("log.cleaner.max.compaction.lag.ms"),
)

CLUSTER = (
    broker(
        "zookeeper.connect",
        TYPE_STRING,
        None,
        "host:port[,host:port...][/chroot] of the ZooKeeper ensemble that holds the cluster (Kafka's layout; "
        "the chroot is created if missing). Unset: a single node, no ZooKeeper.",
    ),
    broker(
        "zookeeper.session.timeout.ms",
        TYPE_INT,
        "18000",
        "The broker's ZooKeeper session timeout: a broker silent this long loses its registration, and "
        "the controller moves or takes its leaderships. ZooKeeper clamps it to 2-20 of its ticks.",
        at_least(1),
    ),
    broker(
        "zookeeper.connection.timeout.ms",
        TYPE_INT,
        None,
        "How long a connection to ZooKeeper, or one request, may take before the broker says so (at "
        "start-up: and tries again). Unset: zookeeper.session.timeout.ms.",
        at_least(1),
    ),
    broker(
        "broker.rack",
        TYPE_STRING,
        None,
        "This broker's rack: shown in Metadata and DescribeCluster; CreateTopics spreads a partition's "
        "replicas over racks when every live broker has one.",
    ),
    broker(
        "offsets.topic.replication.factor",
        TYPE_SHORT,
        "3",
        "Replication factor of __consumer_offsets, capped by the live brokers when the topic is created "
        "(as Kafka does; the log says so).",
        at_least(1),
    ),
    broker(
        "offsets.commit.timeout.ms",
        TYPE_INT,
        "5000",
        "How long an OffsetCommit waits for the ISR of its __consumer_offsets partition to have the offsets "
        "(as an acks=all Produce) before it is answered COORDINATOR_NOT_AVAILABLE.",
        at_least(1),
    ),
    broker(
        "replica.lag.time.max.ms",
        TYPE_LONG,
        "30000",
        "A follower that has not caught up with the leader's log end within this time leaves the ISR "
        "(the leader writes the smaller ISR to ZooKeeper first); it rejoins once it reaches the high "
        "watermark and the start of the current leader epoch.",
        at_least(1),
    ),
    broker(
        "replica.fetch.wait.max.ms",
        TYPE_INT,
        "500",
        "How long a follower's Fetch waits at the leader for new records (below replica.lag.time.max.ms).",
        at_least(0),
    ),
    broker("replica.fetch.min.bytes", TYPE_INT, "1", "Bytes a follower's Fetch waits for at the leader.", at_least(1)),
    broker(
        "replica.fetch.max.bytes",
        TYPE_INT,
        "1048576",
        "Bytes a follower asks per partition in one Fetch (the first batch comes whole if larger).",
        at_least(0),
    ),
    broker(
        "replica.fetch.response.max.bytes",
        TYPE_INT,
        "10485760",
        "Bytes a follower asks in one Fetch from one leader, all partitions together.",
        at_least(0),
    ),
    broker(
        "replica.fetch.backoff.ms",
        TYPE_INT,
        "1000",
        "Pause of a follower's fetching of a partition after an error, or after its leader could not be reached.",
        at_least(0),
    ),
    broker(
        "replica.socket.timeout.ms",
        TYPE_INT,
        "30000",
        "How long a follower waits for the leader's answer to a Fetch before it reconnects.",
    ),
    broker(
        "controlled.shutdown.enable",
        TYPE_BOOLEAN,
        "true",
        "In a cluster, SIGTERM first asks the controller to move this broker's leaderships to other "
        "replicas (ControlledShutdown), then stops.",
    ),
    broker(
        "controlled.shutdown.max.retries",
        TYPE_INT,
        "3",
        "Attempts of a controlled shutdown (a controller that cannot be reached, or leaderships it could "
        "not move yet) before the broker stops anyway.",
    ),
    broker(
        "controlled.shutdown.retry.backoff.ms",
        TYPE_LONG,
        "5000",
        "Wait between two attempts of a controlled shutdown.",
    ),
)

BROKER_CORE: tuple[BrokerConfigDef, ...] = SERVER + LOG + CLUSTER
