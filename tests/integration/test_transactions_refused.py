"""A transactional producer is told at once that hpbroker has no transactions, instead of
waiting forever for a transaction coordinator; producers without transactional.id and the
broker itself carry on."""

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

from tests.integration.conftest import create_topic

pytestmark = pytest.mark.integration


def test_init_transactions_fails_fast_and_says_why(bootstrap, topic_name):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "tx-" + topic_name})
    start = time.monotonic()
    with pytest.raises(KafkaException) as info:
        p.init_transactions(30)
    error = info.value.args[0]
    assert time.monotonic() - start < 10
    assert error.fatal() and error.code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    assert "does not support transactions" in error.str()

    create_topic(bootstrap, topic_name)
    plain = Producer({"bootstrap.servers": bootstrap})
    plain.produce(topic_name, b"v")
    assert plain.flush(15) == 0
