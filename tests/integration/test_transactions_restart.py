"""Transactions across a broker killed with SIGKILL: the consume-transform-produce loop goes on
after the restart with every input's output once (the coordinator replays __transaction_state,
the partitions their producer state and .txnindex files, the group coordinator the offsets of
open transactions), and a transaction left open across the crash holds read_committed consumers
until the restarted coordinator aborts it at its timeout."""

import os
import signal
import subprocess
import sys

import pytest
from confluent_kafka import Producer

from hpbroker.testing import running_broker, wait_until
from tests.integration.conftest import create_topic, mode_args
from tests.integration.test_transactions import CONFIG, _end_offsets, _read

pytestmark = pytest.mark.integration


def test_exactly_once_through_a_broker_sigkill(tmp_path):
    n = 300
    source, sink = "in", "out"
    with running_broker(subprocess=True, data_dir=str(tmp_path), config=CONFIG, args=mode_args()) as b:
        port = b.port
        bootstrap = b.bootstrap
        create_topic(bootstrap, source, partitions=2)
        create_topic(bootstrap, sink, partitions=2)
        plain = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        for i in range(n):
            plain.produce(source, f"p{i % 2}-{i}".encode(), partition=i % 2)
        assert plain.flush(15) == 0
        # a transaction left open across the crash, on the output's partition 0
        hanging = Producer(
            {"bootstrap.servers": bootstrap, "transactional.id": "hanging", "transaction.timeout.ms": 4000}
        )
        hanging.init_transactions(30)
        hanging.begin_transaction()
        hanging.produce(sink, b"never-committed", partition=0)
        assert hanging.flush(10) == 0
        loop = [
            sys.executable,
            os.path.join(os.path.dirname(__file__), "txn_loop.py"),
            bootstrap,
            source,
            sink,
            "g",
            "loop",
        ]
        proc = subprocess.Popen(loop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: sum(_end_offsets(bootstrap, sink, 2)) >= 80, 60, "output before the crash")
            os.killpg(b.process.pid, signal.SIGKILL)
            b.process.wait(30)
        finally:
            proc.kill()
            proc.wait(10)
    with running_broker(subprocess=True, data_dir=str(tmp_path), port=port, config=CONFIG, args=mode_args()) as b:
        bootstrap = b.bootstrap
        proc = subprocess.Popen(loop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            expected = {p: [f"p{p}-{i}-out".encode() for i in range(p, n, 2)] for p in range(2)}

            def complete():
                ends = _end_offsets(bootstrap, sink, 2)
                got = _read(bootstrap, sink, 2, "read_committed", ends, timeout=10)
                return len(got) >= n and got

            got = wait_until(complete, 90, "every output record")
        finally:
            proc.kill()
            proc.wait(10)
        assert b"never-committed" not in got
        assert sorted(got) == sorted(v for vs in expected.values() for v in vs)
