"""Ring sizes follow the free space of /dev/shm: full size when it fits, halved down to a floor
that still holds librdkafka's largest Produce, and a clear refusal (not a SIGBUS later) below
that."""

import logging

import pytest

from hpbroker.config import BrokerConfig
from hpbroker.server.multiproc import supervisor as supervisor_module
from hpbroker.server.multiproc import topology
from hpbroker.server.multiproc.topology import (
    MIN_REQUEST_RING_BYTES,
    RESPONSE_RING_BYTES,
    SharedMemoryTooSmall,
    plan_request_ring_bytes,
)

MiB = 1 << 20
FULL = 16 * MiB


def test_full_size_when_it_fits():
    assert plan_request_ring_bytes(2, 2, 1 << 30, wanted=FULL) == FULL


def test_a_container_default_shm_shrinks_the_rings_but_still_starts():
    # docker's default /dev/shm is 64 MiB: 2/2 at full size would need 68 MiB
    size = plan_request_ring_bytes(2, 2, 64 * MiB, wanted=FULL)
    assert MIN_REQUEST_RING_BYTES <= size < FULL
    used = 4 * (size + 128 + RESPONSE_RING_BYTES + 128)
    assert used <= 32 * MiB  # within the share of the free space the rings may take
    assert size // 2 - 8 > 1_000_000 + 1024  # a 1 MB Produce request still fits one record


def test_too_small_is_refused_with_what_to_do():
    with pytest.raises(SharedMemoryTooSmall) as err:
        plan_request_ring_bytes(8, 16, 64 * MiB, wanted=FULL)
    message = str(err.value)
    assert "8 processors x 16 handlers" in message and "--handlers 0" in message and "shm-size" in message


def test_a_smaller_configured_ring_is_kept():
    assert plan_request_ring_bytes(2, 2, 64 * MiB, wanted=64 * 1024) == 64 * 1024


def test_supervisor_refuses_to_start_and_exits_2(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(topology, "shm_free_bytes", lambda: 16 * MiB)
    config = BrokerConfig({"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": str(tmp_path)})
    sup = supervisor_module.Supervisor(config, 4, 4)
    with caplog.at_level(logging.ERROR):
        assert sup.run() == 2
    assert "cannot start" in caplog.text and "--handlers 0" in caplog.text
