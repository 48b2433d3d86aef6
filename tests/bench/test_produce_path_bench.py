"""Microbenchmark of the handler side of a small Produce (run by `make bench`; figures in
docs/performance.md): the one request path (hpbroker/request_path.py: decode, version check,
``produce.handle`` -- validate, append, index, answer per batch -- and encode) of one request of
6 partitions x 10 records of 100 B, on an in-process LocalBroker. With batches this small the
Python per batch and per request is what a request costs; the 100 B workload of compare.py
sends ~6,750 such requests per GB (with 250 records a batch)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile

import pytest

from hpbroker import protocol, request_path
from hpbroker.broker.interface import Node
from hpbroker.broker.local import LocalBroker
from hpbroker.config import BrokerConfig
from hpbroker.records.builder import build_batch

pytestmark = pytest.mark.bench


@pytest.fixture
def small_produce():
    tmp = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None, prefix="bench-produce-")
    broker = LocalBroker(BrokerConfig({"log.dirs": tmp}), Node(0, "localhost", 9092))
    try:
        asyncio.run(broker.controller.create_topic("t", 6, {}))
        batch = bytes(build_batch([b"x" * 100] * 10))
        frame = protocol.encode_request(
            0,
            8,
            1,
            "bench",
            {
                "transactional_id": None,
                "acks": 1,
                "timeout_ms": 1000,
                "topic_data": [{"name": "t", "partition_data": [{"index": i, "records": batch} for i in range(6)]}],
            },
        )
        yield broker, frame[4:]
    finally:
        broker.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_produce_6_partitions_small_batches(benchmark, small_produce):
    broker, frame = small_produce

    def one():
        buf = bytearray(frame)  # the handler patches offsets into the request in place
        return request_path.serve(broker, buf, "bench", request_path.encode_parts)

    benchmark(one)
