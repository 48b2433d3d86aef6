"""Every metric the endpoint serves: its Prometheus name, type, labels, meaning, and where its
value lives.

Names are what the Prometheus JMX exporter's Kafka rules (its ``kafka-2_0_0.yml`` example, and
Strimzi's rules for the per-listener socket metrics) make of Kafka's MBeans, lower case, so a
dashboard or alert written for Kafka behind the JMX exporter finds the same series here.
Differences, each deliberate:
- Kafka's timers (RequestMetrics' *TimeMs, LogFlushRateAndTimeMs ...) come through the JMX
  exporter as quantile gauges plus ``_count``; here they are Prometheus histograms of the same
  name (``_bucket``, ``_sum``, ``_count``): ``_count`` is the same series,
  ``histogram_quantile(0.99, rate(..._bucket[5m]))`` replaces ``{quantile="0.99"}``.
- Per-second meters (``*PerSec``) are the exporter's ``..._total`` counters: Prometheus' rate()
  gives the per-second figure.
- ``responsebytes`` (a response size histogram beside Kafka's RequestBytes) and the consumer
  group lag, named as kafka-exporter names them, have no Kafka MBean.

Where a value lives (``source``): in each process's region (layout.py): ``("request", h)``
request histogram h, ``("requests",)`` the per-version request counts, ``("topic", column)``,
``("counter", i)``, ``("gauge", i)`` (``aggregate``: "sum" over the processes, "mean" over those
of ``role``), ``("histogram", i)``, ``("listener", column)``, ``("purgatory",)``; or in what
the partition owners and coordinators publish, and the log dirs' space read at the scrape
(``("snapshot", key)``, snapshot.py).

To add a metric: a line here (and, for a value in the region, its index in layout.py); the
process that knows the value counts or sets it (``broker.stats``); docs/operations.md lists it
(tests/metrics/test_catalog.py checks that the page names every metric).
"""

from __future__ import annotations

from dataclasses import dataclass

from hpbroker.metrics.layout import (
    HANDLER,
    PROCESSOR,
    Counter,
    Gauge,
    Histogram,
    ListenerColumn,
    RequestHistogram,
    TopicColumn,
)

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"


@dataclass(frozen=True)
class Metric:
    name: str  # the family name (a counter's samples end in _total)
    kind: str
    help: str
    labels: tuple[str, ...]
    mbean: str  # Kafka's MBean it stands for; "" for none
    source: tuple
    unit: str = ""  # "ms" or "bytes" for histograms
    aggregate: str = "sum"  # gauges: "sum" over the processes, or "mean" over those of ``role``
    role: int = 0


def _m(name, kind, help, labels=(), mbean="", source=(), **kw) -> Metric:
    return Metric(name, kind, help, tuple(labels), mbean, source, **kw)


_RM = "kafka.network:type=RequestMetrics,name={},request=*"
_BTM = "kafka.server:type=BrokerTopicMetrics,name={},topic=*"
_TIME = (
    (
        RequestHistogram.TOTAL,
        "totaltimems",
        "TotalTimeMs",
        "Time from a request's last byte received to its answer's last byte sent",
    ),
    (
        RequestHistogram.REQUEST_QUEUE,
        "requestqueuetimems",
        "RequestQueueTimeMs",
        "Time a request waited before its handler took it (in the multi-process topology: in the ring to its handler process)",
    ),
    (RequestHistogram.LOCAL, "localtimems", "LocalTimeMs", "Time its handler worked on a request"),
    (
        RequestHistogram.REMOTE,
        "remotetimems",
        "RemoteTimeMs",
        "Time a request waited parked (a long-poll Fetch, acks=all, a JoinGroup, a controller call)",
    ),
    (
        RequestHistogram.RESPONSE_QUEUE,
        "responsequeuetimems",
        "ResponseQueueTimeMs",
        "Time an answer waited before its connection sent it (answers leave in request order; in the multi-process topology: the ring back)",
    ),
    (
        RequestHistogram.RESPONSE_SEND,
        "responsesendtimems",
        "ResponseSendTimeMs",
        "Time to hand an answer to the socket, until its last byte is written",
    ),
)

REQUESTS = (
    _m(
        "kafka_network_requestmetrics_requests_total",
        COUNTER,
        "Requests answered, by API (Kafka's name; Fetch from a consumer is FetchConsumer) and version",
        ("request", "version"),
        "kafka.network:type=RequestMetrics,name=RequestsPerSec,request=*,version=*",
        ("requests",),
    ),
    *(
        _m(
            f"kafka_network_requestmetrics_{name}",
            HISTOGRAM,
            text + ", by API",
            ("request",),
            _RM.format(bean),
            ("request", h),
            unit="ms",
        )
        for h, name, bean, text in _TIME
    ),
    _m(
        "kafka_network_requestmetrics_requestbytes",
        HISTOGRAM,
        "Size of requests, by API",
        ("request",),
        _RM.format("RequestBytes"),
        ("request", RequestHistogram.REQUEST_BYTES),
        unit="bytes",
    ),
    _m(
        "kafka_network_requestmetrics_responsebytes",
        HISTOGRAM,
        "Size of answers, by API (hpbroker's: Kafka has no such MBean)",
        ("request",),
        "",
        ("request", RequestHistogram.RESPONSE_BYTES),
        unit="bytes",
    ),
)

_TOPIC = (
    (TopicColumn.BYTES_IN, "bytesin", "BytesInPerSec", "Record batch bytes appended for producers"),
    (TopicColumn.BYTES_OUT, "bytesout", "BytesOutPerSec", "Record batch bytes sent to consumers"),
    (TopicColumn.MESSAGES_IN, "messagesin", "MessagesInPerSec", "Records appended for producers"),
    (
        TopicColumn.BYTES_REJECTED,
        "bytesrejected",
        "BytesRejectedPerSec",
        "Record batch bytes of refused produce partitions",
    ),
    (
        TopicColumn.TOTAL_PRODUCE_REQUESTS,
        "totalproducerequests",
        "TotalProduceRequestsPerSec",
        "Partitions of Produce requests",
    ),
    (
        TopicColumn.FAILED_PRODUCE_REQUESTS,
        "failedproducerequests",
        "FailedProduceRequestsPerSec",
        "Partitions of Produce requests answered with an error",
    ),
    (
        TopicColumn.TOTAL_FETCH_REQUESTS,
        "totalfetchrequests",
        "TotalFetchRequestsPerSec",
        "Partitions of Fetch requests answered",
    ),
    (
        TopicColumn.FAILED_FETCH_REQUESTS,
        "failedfetchrequests",
        "FailedFetchRequestsPerSec",
        "Partitions of Fetch requests answered with an error",
    ),
)

TOPICS = tuple(
    _m(
        f"kafka_server_brokertopicmetrics_{name}_total",
        COUNTER,
        text + ", by topic (the sample without a topic label: every topic)",
        ("topic",),
        _BTM.format(bean),
        ("topic", col),
    )
    for col, name, bean, text in _TOPIC
)

_RMGR = "kafka.server:type=ReplicaManager,name={}"
_KC = "kafka.controller:type=KafkaController,name={}"
_GMM = "kafka.coordinator.group:type=GroupMetadataManager,name={}"

BROKER = (
    _m(
        "kafka_server_replicamanager_partitioncount",
        GAUGE,
        "Partitions on this broker",
        (),
        _RMGR.format("PartitionCount"),
        ("gauge", Gauge.PARTITION_COUNT),
    ),
    _m(
        "kafka_server_replicamanager_leadercount",
        GAUGE,
        "Partitions this broker leads",
        (),
        _RMGR.format("LeaderCount"),
        ("gauge", Gauge.LEADER_COUNT),
    ),
    _m(
        "kafka_server_replicamanager_underreplicatedpartitions",
        GAUGE,
        "Partitions this broker leads whose ISR is smaller than their replica set",
        (),
        _RMGR.format("UnderReplicatedPartitions"),
        ("gauge", Gauge.UNDER_REPLICATED),
    ),
    _m(
        "kafka_server_replicamanager_underminisrpartitioncount",
        GAUGE,
        "Partitions this broker leads whose ISR is below min.insync.replicas (acks=all produce fails there)",
        (),
        _RMGR.format("UnderMinIsrPartitionCount"),
        ("gauge", Gauge.UNDER_MIN_ISR),
    ),
    _m(
        "kafka_server_replicamanager_atminisrpartitioncount",
        GAUGE,
        "Partitions this broker leads whose ISR is exactly min.insync.replicas",
        (),
        _RMGR.format("AtMinIsrPartitionCount"),
        ("gauge", Gauge.AT_MIN_ISR),
    ),
    _m(
        "kafka_server_replicamanager_offlinereplicacount",
        GAUGE,
        "Replicas on this broker that cannot be served (their log dir failed)",
        (),
        _RMGR.format("OfflineReplicaCount"),
        ("gauge", Gauge.OFFLINE_REPLICAS),
    ),
    _m(
        "kafka_server_replicamanager_isrshrinks_total",
        COUNTER,
        "Times an ISR of a partition this broker leads shrank",
        (),
        _RMGR.format("IsrShrinksPerSec"),
        ("counter", Counter.ISR_SHRINKS),
    ),
    _m(
        "kafka_server_replicamanager_isrexpands_total",
        COUNTER,
        "Times an ISR of a partition this broker leads grew",
        (),
        _RMGR.format("IsrExpandsPerSec"),
        ("counter", Counter.ISR_EXPANDS),
    ),
    _m(
        "kafka_controller_kafkacontroller_activecontrollercount",
        GAUGE,
        "1 on the broker that is the controller, 0 elsewhere (the cluster's sum must be 1)",
        (),
        _KC.format("ActiveControllerCount"),
        ("gauge", Gauge.ACTIVE_CONTROLLER),
    ),
    _m(
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        GAUGE,
        "Partitions without a leader (reported by the controller)",
        (),
        _KC.format("OfflinePartitionsCount"),
        ("gauge", Gauge.OFFLINE_PARTITIONS),
    ),
    _m(
        "kafka_controller_kafkacontroller_globalpartitioncount",
        GAUGE,
        "Partitions in the cluster (reported by the controller)",
        (),
        _KC.format("GlobalPartitionCount"),
        ("gauge", Gauge.GLOBAL_PARTITIONS),
    ),
    _m(
        "kafka_controller_kafkacontroller_globaltopiccount",
        GAUGE,
        "Topics in the cluster (reported by the controller)",
        (),
        _KC.format("GlobalTopicCount"),
        ("gauge", Gauge.GLOBAL_TOPICS),
    ),
    _m(
        "kafka_controller_controllerstats_leaderelectionrateandtimems",
        HISTOGRAM,
        "Partition leader elections and the time each took",
        (),
        "kafka.controller:type=ControllerStats,name=LeaderElectionRateAndTimeMs",
        ("histogram", Histogram.LEADER_ELECTION),
        unit="ms",
    ),
    _m(
        "kafka_controller_controllerstats_uncleanleaderelections_total",
        COUNTER,
        "Leaders elected from outside the ISR",
        (),
        "kafka.controller:type=ControllerStats,name=UncleanLeaderElectionsPerSec",
        ("counter", Counter.UNCLEAN_LEADER_ELECTIONS),
    ),
    _m(
        "kafka_controller_controllerstats_controllerchangerateandtimems",
        HISTOGRAM,
        "Controller elections this broker saw (a new controller) and the time each took to handle",
        (),
        "kafka.controller:type=ControllerStats,name=ControllerChangeRateAndTimeMs",
        ("histogram", Histogram.CONTROLLER_CHANGE),
        unit="ms",
    ),
    _m(
        "kafka_server_delayedoperationpurgatory_purgatorysize",
        GAUGE,
        "Requests parked until something completes them: Produce (acks=all waiting for replicas), Fetch (long polls; a Fetch counts once per partition it watches)",
        ("delayedOperation",),
        "kafka.server:type=DelayedOperationPurgatory,name=PurgatorySize,delayedOperation=*",
        ("purgatory",),
    ),
    _m(
        "kafka_coordinator_group_groupmetadatamanager_numgroups",
        GAUGE,
        "Consumer groups this broker coordinates",
        (),
        _GMM.format("NumGroups"),
        ("gauge", Gauge.GROUPS),
    ),
    _m(
        "kafka_coordinator_group_groupmetadatamanager_numgroupspreparingrebalance",
        GAUGE,
        "Groups in PreparingRebalance",
        (),
        _GMM.format("NumGroupsPreparingRebalance"),
        ("gauge", Gauge.GROUPS_PREPARING_REBALANCE),
    ),
    _m(
        "kafka_coordinator_group_groupmetadatamanager_numgroupscompletingrebalance",
        GAUGE,
        "Groups in CompletingRebalance",
        (),
        _GMM.format("NumGroupsCompletingRebalance"),
        ("gauge", Gauge.GROUPS_COMPLETING_REBALANCE),
    ),
    _m(
        "kafka_coordinator_group_groupmetadatamanager_numgroupsstable",
        GAUGE,
        "Groups in Stable",
        (),
        _GMM.format("NumGroupsStable"),
        ("gauge", Gauge.GROUPS_STABLE),
    ),
    _m(
        "kafka_coordinator_group_groupmetadatamanager_numgroupsdead",
        GAUGE,
        "Groups in Dead",
        (),
        _GMM.format("NumGroupsDead"),
        ("gauge", Gauge.GROUPS_DEAD),
    ),
    _m(
        "kafka_coordinator_group_groupmetadatamanager_numgroupsempty",
        GAUGE,
        "Groups in Empty",
        (),
        _GMM.format("NumGroupsEmpty"),
        ("gauge", Gauge.GROUPS_EMPTY),
    ),
    _m(
        "kafka_coordinator_group_groupmetadatamanager_numoffsets",
        GAUGE,
        "Committed offsets this broker holds",
        (),
        _GMM.format("NumOffsets"),
        ("gauge", Gauge.OFFSETS),
    ),
    _m(
        "kafka_log_logflushstats_logflushrateandtimems",
        HISTOGRAM,
        "Log flushes (fsync of a partition's segments) and the time each took",
        (),
        "kafka.log:type=LogFlushStats,name=LogFlushRateAndTimeMs",
        ("histogram", Histogram.LOG_FLUSH),
        unit="ms",
    ),
)

_SSM = "kafka.server:type=socket-server-metrics,listener=*,networkProcessor=*"
NETWORK = (
    _m(
        "kafka_network_socketserver_networkprocessoravgidle_percent",
        GAUGE,
        "Share of wall time the network processors spent off the CPU over the last second, 0 to 1 (the mean over processors)",
        (),
        "kafka.network:type=SocketServer,name=NetworkProcessorAvgIdlePercent",
        ("gauge", Gauge.NETWORK_IDLE_PPM),
        aggregate="mean",
        role=PROCESSOR,
    ),
    _m(
        "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
        GAUGE,
        "Share of wall time the request handlers spent off the CPU over the last second, 0 to 1 (the mean over handlers)",
        (),
        "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent",
        ("gauge", Gauge.HANDLER_IDLE_PPM),
        aggregate="mean",
        role=HANDLER,
    ),
    _m(
        "kafka_server_socket_server_metrics_connection_count",
        GAUGE,
        "Connections open now, by listener and network processor",
        ("listener", "networkProcessor"),
        _SSM + " connection-count",
        ("listener", ListenerColumn.CONNECTIONS),
    ),
    _m(
        "kafka_server_socket_server_metrics_connection_creation_total",
        COUNTER,
        "Connections accepted, by listener and network processor",
        ("listener", "networkProcessor"),
        _SSM + " connection-creation-total",
        ("listener", ListenerColumn.CREATED),
    ),
    _m(
        "kafka_server_socket_server_metrics_connection_close_total",
        COUNTER,
        "Connections closed, by listener and network processor",
        ("listener", "networkProcessor"),
        _SSM + " connection-close-total",
        ("listener", ListenerColumn.CLOSED),
    ),
    _m(
        "kafka_server_socket_server_metrics_failed_authentication_total",
        COUNTER,
        "Connections whose authentication failed, by listener and network processor",
        ("listener", "networkProcessor"),
        _SSM + " failed-authentication-total",
        ("listener", ListenerColumn.FAILED_AUTHENTICATION),
    ),
    _m(
        "kafka_server_socket_server_metrics_successful_authentication_total",
        COUNTER,
        "Connections that authenticated, by listener and network processor",
        ("listener", "networkProcessor"),
        _SSM + " successful-authentication-total",
        ("listener", ListenerColumn.SUCCESSFUL_AUTHENTICATION),
    ),
)

_CG = ("consumergroup", "topic", "partition")
_LOG = "kafka.log:type=Log,name={},topic=*,partition=*"
SNAPSHOT = (
    _m(
        "kafka_consumergroup_current_offset",
        GAUGE,
        "A group's committed offset of a partition (kafka-exporter's name)",
        _CG,
        "",
        ("snapshot", "current"),
    ),
    _m(
        "kafka_consumergroup_lag",
        GAUGE,
        "A group's lag on a partition: the partition's high watermark minus the group's committed offset, computed by the group's coordinator (kafka-exporter's name)",
        _CG,
        "",
        ("snapshot", "lag"),
    ),
    _m(
        "kafka_consumergroup_lag_sum",
        GAUGE,
        "A group's lag summed over a topic's partitions (kafka-exporter's name)",
        ("consumergroup", "topic"),
        "",
        ("snapshot", "lag_sum"),
    ),
    _m(
        "kafka_consumergroup_members",
        GAUGE,
        "Members of a group (kafka-exporter's name)",
        ("consumergroup",),
        "",
        ("snapshot", "members"),
    ),
    _m(
        "kafka_log_log_size",
        GAUGE,
        "Bytes of a partition's log on disk",
        ("topic", "partition"),
        _LOG.format("Size"),
        ("snapshot", "size"),
    ),
    _m(
        "kafka_log_log_logstartoffset",
        GAUGE,
        "A partition's log start offset",
        ("topic", "partition"),
        _LOG.format("LogStartOffset"),
        ("snapshot", "log_start"),
    ),
    _m(
        "kafka_log_log_logendoffset",
        GAUGE,
        "A partition's log end offset",
        ("topic", "partition"),
        _LOG.format("LogEndOffset"),
        ("snapshot", "log_end"),
    ),
    _m(
        "kafka_log_log_numlogsegments",
        GAUGE,
        "Segments of a partition's log",
        ("topic", "partition"),
        _LOG.format("NumLogSegments"),
        ("snapshot", "segments"),
    ),
    _m(
        "hpbroker_log_dir_free_bytes",
        GAUGE,
        "Bytes free for the broker in a log dir's file system (hpbroker's: Kafka leaves it to the host's exporter)",
        ("dir",),
        "",
        ("snapshot", "free"),
    ),
    _m(
        "hpbroker_log_dir_total_bytes",
        GAUGE,
        "Size of a log dir's file system (hpbroker's)",
        ("dir",),
        "",
        ("snapshot", "total"),
    ),
)

#: every metric the endpoint serves from the regions, in the order of its exposition
CATALOG: tuple[Metric, ...] = REQUESTS + TOPICS + BROKER + NETWORK
#: ... and every metric it serves at all
EVERY_METRIC: tuple[Metric, ...] = CATALOG + SNAPSHOT


def by_name() -> dict[str, Metric]:
    return {m.name: m for m in CATALOG}
