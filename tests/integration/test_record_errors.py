"""Per-record errors in Produce (KIP-467): a batch refused for some of its records names every one
of them in record_errors, so a producer fails exactly those with the record's error and the rest
of the batch with its "part of a batch which had invalid records" error (librdkafka 1.9+'s
_INVALID_DIFFERENT_RECORD, kafka-python's KafkaError), as against Kafka."""

import time

import pytest

from hpbroker.records.builder import build_batch
from tests.integration.conftest import create_topic
from tests.integration.rawclient import RawClient, produce_body, produce_result

pytestmark = pytest.mark.integration

PRODUCE = 0
INVALID_RECORD, INVALID_TIMESTAMP = 87, 32
DIFFERENT_RECORD_MESSAGE = (
    "Failed to append record because it was part of a batch which had one more more invalid records"
)


def _confluent_one_batch(bootstrap, topic, messages, **conf):
    """Produce ``messages`` (dicts of produce() arguments) as one batch; the delivery error of each,
    in order."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1000, "message.send.max.retries": 0, **conf})
    errors = {}
    for i, m in enumerate(messages):
        p.produce(topic, partition=0, on_delivery=lambda err, msg, i=i: errors.__setitem__(i, err), **m)
    assert p.flush(20) == 0
    return [errors[i] for i in range(len(messages))]


@pytest.mark.parametrize("compression", ["none", "lz4"])
def test_confluent_keyless_records_on_a_compacted_topic(bootstrap, topic_name, compression):
    from confluent_kafka import KafkaError

    create_topic(bootstrap, topic_name, config={"cleanup.policy": "compact"})
    keyless = {1, 3, 4}
    messages = [{"key": None if i in keyless else b"k%d" % i, "value": b"v%d" % i} for i in range(6)]
    errors = _confluent_one_batch(bootstrap, topic_name, messages, **{"compression.type": compression})
    for i, err in enumerate(errors):
        assert err is not None, f"record {i} must fail with its batch"
        if i in keyless:
            assert err.code() == KafkaError.INVALID_RECORD, (i, err)
        else:
            assert err.code() == KafkaError._INVALID_DIFFERENT_RECORD, (i, err)
    # the keyed records go through on their own
    assert (
        _confluent_one_batch(bootstrap, topic_name, [m for i, m in enumerate(messages) if i not in keyless])
        == [None] * 3
    )


def test_confluent_one_keyless_record(bootstrap, topic_name):
    """One record named: the keyless record fails with INVALID_RECORD. What librdkafka (2.16)
    reports for the others of its batch is its own choice (against Kafka too, for the same
    response it fails them all with the partition's error); and on a loaded machine it may have
    sent a keyed record in a batch of its own, which then succeeds."""
    from confluent_kafka import KafkaError

    create_topic(bootstrap, topic_name, config={"cleanup.policy": "compact"})
    errors = _confluent_one_batch(
        bootstrap,
        topic_name,
        [{"key": b"a", "value": b"1"}, {"key": None, "value": b"2"}, {"key": b"c", "value": b"3"}],
    )
    assert errors[1] is not None and errors[1].code() == KafkaError.INVALID_RECORD
    for err in (errors[0], errors[2]):
        assert err is None or err.code() in (KafkaError.INVALID_RECORD, KafkaError._INVALID_DIFFERENT_RECORD)


def test_confluent_records_out_of_the_timestamp_bounds(bootstrap, topic_name):
    from confluent_kafka import KafkaError

    create_topic(
        bootstrap,
        topic_name,
        config={"message.timestamp.after.max.ms": "3600000", "message.timestamp.before.max.ms": "3600000"},
    )
    now = int(time.time() * 1000)
    stamps = [now, now + 86_400_000, now - 1000, now + 7_200_000]
    errors = _confluent_one_batch(bootstrap, topic_name, [{"value": b"v", "timestamp": ts} for ts in stamps])
    # several records named: each gets INVALID_RECORD (the partition's INVALID_TIMESTAMP cannot be
    # told apart per record; confluent-kafka's delivery report does not carry the record's message)
    assert [e.code() for e in errors] == [
        KafkaError._INVALID_DIFFERENT_RECORD,
        KafkaError.INVALID_RECORD,
        KafkaError._INVALID_DIFFERENT_RECORD,
        KafkaError.INVALID_RECORD,
    ]
    # one record named: the partition's error for all (see test_confluent_one_keyless_record)
    errors = _confluent_one_batch(
        bootstrap, topic_name, [{"value": b"v", "timestamp": ts} for ts in (now, now + 86_400_000)]
    )
    assert [e.code() for e in errors] == [KafkaError.INVALID_TIMESTAMP] * 2


@pytest.mark.parametrize("idempotent", [False, True])
def test_kafka_python_keyless_records_on_a_compacted_topic(bootstrap, topic_name, idempotent):
    from kafka import KafkaProducer
    from kafka import errors as Errors

    create_topic(bootstrap, topic_name, config={"cleanup.policy": "compact"})
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=1000, enable_idempotence=idempotent, acks="all")
    try:
        keyless = {0, 2, 5}
        futures = [
            p.send(topic_name, key=None if i in keyless else b"k%d" % i, value=b"v", partition=0) for i in range(6)
        ]
        p.flush(20)
        for i, f in enumerate(futures):
            exc = f.exception
            assert exc is not None, f"record {i} must fail with its batch"
            if i in keyless:
                assert isinstance(exc, Errors.InvalidRecordError), (i, exc)
                assert "without key" in str(exc), (i, exc)
            else:
                assert type(exc) is Errors.KafkaError and DIFFERENT_RECORD_MESSAGE in str(exc), (i, exc)
    finally:
        p.close(5)


def test_many_invalid_records_still_get_an_answer(bootstrap, topic_name):
    """So many keyless records that their messages would not fit a response (a multi-process
    broker's response ring takes 512 KiB): every index is named, without the messages, and the
    connection keeps serving."""
    create_topic(bootstrap, topic_name, config={"cleanup.policy": "compact"})
    n = 12000
    buf = build_batch([(None if i % 2 == 0 else b"k", b"") for i in range(n)])
    with RawClient(bootstrap) as c:
        r = c.request(PRODUCE, 8, produce_body(topic_name, 0, bytes(buf), acks=1))
        part = r["responses"][0]["partition_responses"][0]
        assert part["error_code"] == INVALID_RECORD
        assert [e["batch_index"] for e in part["record_errors"]] == list(range(0, n, 2))
        assert all(e["batch_index_error_message"] is None for e in part["record_errors"])
        assert part["error_message"].startswith(f"One or more records have been rejected due to {n // 2} record errors")
        assert part["log_start_offset"] == 0
        keyed = build_batch([(b"k", b"v")])
        assert produce_result(c.request(PRODUCE, 8, produce_body(topic_name, 0, bytes(keyed), acks=1))) == (0, 0)
