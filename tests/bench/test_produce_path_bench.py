"""Microbenchmark of the handler side of a small Produce (run by `make bench`; figures in
tuning.md): decode, ``produce.handle`` (validate, append, index, answer per batch) and encode
of one request of 6 partitions x 10 records of 100 B, on an in-process BrokerContext. With
batches this small the Python per batch and per request is what a request costs; the 100 B
workload of compare.py sends ~6,750 such requests per GB (with 250 records a batch)."""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from hpbroker import protocol
from hpbroker.config import BrokerConfig
from hpbroker.handlers import produce
from hpbroker.handlers.context import BrokerContext, Node
from hpbroker.broker.request import RequestContext
from hpbroker.records.builder import build_batch

pytestmark = pytest.mark.bench


@pytest.fixture
def small_produce():
    tmp = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None, prefix="bench-produce-")
    broker = BrokerContext(BrokerConfig({"log.dirs": tmp}), Node(0, "localhost", 9092))
    try:
        broker.create_topic("t", 6, {})
        batch = bytes(build_batch([b"x" * 100] * 10))
        frame = protocol.encode_request(0, 8, 1, "bench", {
            "transactional_id": None, "acks": 1, "timeout_ms": 1000,
            "topic_data": [{"name": "t", "partition_data": [{"index": i, "records": batch} for i in range(6)]}]})
        yield RequestContext(broker, produce.API_KEY, 8, 1, "bench", "bench"), frame[4:]
    finally:
        broker.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_produce_6_partitions_small_batches(benchmark, small_produce):
    ctx, frame = small_produce

    def one():
        buf = bytearray(frame)  # the handler patches offsets into the request in place
        header, offset = protocol.decode_request_header(buf)
        response = produce.handle(ctx, protocol.decode_request(0, 8, buf, offset))
        return protocol.encode_response(0, 8, header.correlation_id, response)

    benchmark(one)
