"""Locust load test through a real Kafka client (confluent-kafka), against any Kafka-protocol
broker. --host is the bootstrap address:

    locust -f loadtest/locustfile.py --headless -u 20 -r 5 -t 30s --host 127.0.0.1:9092

Two user classes: ProduceUser sends --kafka-records-per-request records and waits for their
delivery reports; ConsumeUser reads the topic from the beginning in batches. Each produce or
consume is reported to locust's statistics (request_type "produce"/"consume", name = topic), so
the usual locust tables, charts and CSV output apply.

Locust runs users as gevent greenlets in one process. librdkafka does its network I/O on its
own native threads, so the greenlets only must never block in a librdkafka call: producers share
one Producer per locust process, a background greenlet serves its delivery reports (poll(0)
every millisecond), and each task waits on a gevent event set by its delivery callback.
Consumers call consume() with a zero timeout and yield to other greenlets between calls.
"""

from __future__ import annotations

import os
import time

import gevent
from gevent.event import AsyncResult
from locust import User, between, events, task

DEFAULT_TOPIC = "locust-load"


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--kafka-topic", default=DEFAULT_TOPIC, help="topic to produce to and consume from")
    parser.add_argument("--kafka-partitions", type=int, default=6, help="partitions if the topic is created")
    parser.add_argument("--kafka-record-size", type=int, default=1000, help="bytes per record")
    parser.add_argument(
        "--kafka-records-per-request",
        type=int,
        default=1,
        help="records per produce request (a request ends when all are delivered)",
    )
    parser.add_argument("--kafka-acks", default="all", choices=["0", "1", "all"])
    parser.add_argument("--kafka-linger-ms", type=float, default=1)
    parser.add_argument("--kafka-consume-batch", type=int, default=500, help="max records per consume")
    parser.add_argument(
        "--kafka-consume-timeout",
        type=float,
        default=1.0,
        help="seconds a consume request waits for records before giving up quietly",
    )


def _bootstrap(host: str | None) -> str:
    host = host or "127.0.0.1:9092"
    return host.split("://", 1)[-1].rstrip("/")  # accept "kafka://host:port" as well


def _report(environment, request_type, name, started, length, exc=None):
    environment.events.request.fire(
        request_type=request_type,
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=length,
        exception=exc,
        context={},
    )


class _SharedProducer:
    """One Producer per locust process, shared by all ProduceUsers (a Producer per user would
    mean a librdkafka client, its threads and connections, per greenlet)."""

    producer = None
    topic_ready = False

    @classmethod
    def get(cls, environment):
        if cls.producer is None:
            from confluent_kafka import Producer

            opts = environment.parsed_options
            cls.producer = Producer(
                {
                    "bootstrap.servers": _bootstrap(environment.host),
                    "acks": opts.kafka_acks,
                    "linger.ms": opts.kafka_linger_ms,
                }
            )
            gevent.spawn(cls._serve_delivery_reports)
        return cls.producer

    @classmethod
    def _serve_delivery_reports(cls):
        while True:
            cls.producer.poll(0)
            gevent.sleep(0.001)

    @classmethod
    def ensure_topic(cls, environment):
        if cls.topic_ready:
            return
        from confluent_kafka.admin import AdminClient, NewTopic

        opts = environment.parsed_options
        admin = AdminClient({"bootstrap.servers": _bootstrap(environment.host)})
        if opts.kafka_topic not in admin.list_topics(timeout=10).topics:
            future = admin.create_topics([NewTopic(opts.kafka_topic, opts.kafka_partitions, 1)])
            try:
                future[opts.kafka_topic].result(10)
            except Exception as exc:  # another locust process may have created it first
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
        cls.topic_ready = True


class ProduceUser(User):
    wait_time = between(0, 0.01)

    def on_start(self):
        _SharedProducer.ensure_topic(self.environment)
        self.producer = _SharedProducer.get(self.environment)
        opts = self.environment.parsed_options
        self.topic = opts.kafka_topic
        self.count = opts.kafka_records_per_request
        self.payload = os.urandom(opts.kafka_record_size)

    @task
    def produce(self):
        pending = [self.count]
        done = AsyncResult()

        def on_delivery(err, _msg):
            if err is not None and not done.ready():
                done.set(err)
            pending[0] -= 1
            if pending[0] == 0 and not done.ready():
                done.set(None)

        started = time.perf_counter()
        try:
            for _ in range(self.count):
                while True:
                    try:
                        self.producer.produce(self.topic, self.payload, on_delivery=on_delivery)
                        break
                    except BufferError:  # local queue full: let deliveries drain
                        gevent.sleep(0.001)
            err = done.get()
            exc = None if err is None else RuntimeError(str(err))
        except Exception as error:  # reported to locust, not raised: the user keeps running
            exc = error
        _report(self.environment, "produce", self.topic, started, self.count * len(self.payload), exc)


class ConsumeUser(User):
    wait_time = between(0, 0.01)

    def on_start(self):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        _SharedProducer.ensure_topic(self.environment)
        opts = self.environment.parsed_options
        self.topic = opts.kafka_topic
        self.consumer = Consumer(
            {
                "bootstrap.servers": _bootstrap(self.environment.host),
                "group.id": f"locust-{os.getpid()}-{id(self)}",
                "enable.auto.commit": False,
            }
        )
        meta = self.consumer.list_topics(self.topic, timeout=10).topics[self.topic]
        self.consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in meta.partitions])

    def on_stop(self):
        self.consumer.close()

    @task
    def consume(self):
        opts = self.environment.parsed_options
        started = time.perf_counter()
        deadline = started + opts.kafka_consume_timeout
        while time.perf_counter() < deadline:
            batch = self.consumer.consume(opts.kafka_consume_batch, 0)
            if batch:
                errors = [m.error() for m in batch if m.error() is not None]
                exc = RuntimeError(str(errors[0])) if errors else None
                _report(
                    self.environment,
                    "consume",
                    self.topic,
                    started,
                    sum(len(m) for m in batch if m.error() is None),
                    exc,
                )
                return
            gevent.sleep(0.002)
        # Nothing to read within the timeout (caught up with the producers): not a failure,
        # and not a request either, so it does not distort the response-time figures.
