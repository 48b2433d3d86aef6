"""The collector adds every process's region up, as the endpoint serves it."""

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hpbroker.metrics.collector import BrokerCollector
from hpbroker.metrics.http import registry_of
from hpbroker.metrics.layout import HANDLER, PROCESSOR, Gauge
from hpbroker.metrics.stats import ProcessStats


def _scrape(regions, topics=None):
    text = generate_latest(registry_of(BrokerCollector(lambda: regions, topics))).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_topics_requests_and_gauges_add_up_across_processes():
    p0 = ProcessStats(role=PROCESSOR, index=0)
    h0, h1 = ProcessStats(role=HANDLER, index=0), ProcessStats(role=HANDLER, index=1)
    h0.produced("a", 1000, 10)
    h1.produced("a", 500, 5)
    h1.produced("b", 100, 1)
    p0.fetched("a", 700)
    # a Produce: received and answered by the processor, handled by handler 0
    p0.recorder.request((0, 9, 1200, 1_000_000, -1, -1, 1_300_000), 80, 1_400_000, 1_500_000)
    h0.recorder.handled(0, 1_000, 1_100_000, 1_200_000, 1_200_000)
    h0.set_gauge(Gauge.PARTITION_COUNT, 3)
    h1.set_gauge(Gauge.PARTITION_COUNT, 4)
    h0.set_gauge(Gauge.HANDLER_IDLE_PPM, 500_000)
    h1.set_gauge(Gauge.HANDLER_IDLE_PPM, 1_000_000)
    p0.connection_opened()
    m = _scrape([p0.words.obj, h0.words.obj, h1.words.obj], topics=lambda: {"a", "b"})
    assert m[("kafka_server_brokertopicmetrics_messagesin_total", (("topic", "a"),))] == 15
    assert m[("kafka_server_brokertopicmetrics_bytesin_total", (("topic", "a"),))] == 1500
    assert m[("kafka_server_brokertopicmetrics_bytesin_total", ())] == 1600
    assert m[("kafka_server_brokertopicmetrics_bytesout_total", (("topic", "a"),))] == 700
    assert m[("kafka_network_requestmetrics_requests_total", (("request", "Produce"), ("version", "9")))] == 1
    assert m[("kafka_network_requestmetrics_totaltimems_count", (("request", "Produce"),))] == 1
    assert m[("kafka_network_requestmetrics_totaltimems_sum", (("request", "Produce"),))] == 0.5
    assert m[("kafka_network_requestmetrics_localtimems_count", (("request", "Produce"),))] == 1
    assert m[("kafka_network_requestmetrics_localtimems_sum", (("request", "Produce"),))] == 0.1
    assert m[("kafka_network_requestmetrics_responsequeuetimems_sum", (("request", "Produce"),))] == 0.1
    assert m[("kafka_server_replicamanager_partitioncount", ())] == 7
    assert m[("kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent", ())] == 0.75
    key = (("listener", "PLAINTEXT"), ("networkProcessor", "0"))
    assert m[("kafka_server_socket_server_metrics_connection_count", key)] == 1


def test_a_deleted_topic_is_not_shown_and_a_restarted_process_goes_on_counting():
    buf = bytearray(ProcessStats().words.nbytes)
    first = ProcessStats(buf, role=HANDLER, index=0)
    first.produced("gone", 10, 1)
    first.produced("kept", 10, 2)
    again = ProcessStats(buf, role=HANDLER, index=0)  # a restarted handler takes its region over
    again.produced("kept", 10, 3)
    assert again.topic_slot("kept") == first.topic_slot("kept")
    m = _scrape([buf], topics=lambda: {"kept"})
    assert m[("kafka_server_brokertopicmetrics_messagesin_total", (("topic", "kept"),))] == 5
    assert ("kafka_server_brokertopicmetrics_messagesin_total", (("topic", "gone"),)) not in m
    assert m[("kafka_server_brokertopicmetrics_messagesin_total", ())] == 6
