"""Acknowledged records survive a broker restart: clean (SIGTERM) and unclean (SIGKILL)."""

import os
import signal

import pytest
from confluent_kafka import Producer

from hpbroker.testing import running_broker
from tests.integration.conftest import confluent_consume_all, create_topic, mode_args

pytestmark = pytest.mark.integration


def _produce_acked(bootstrap, topic, n, prefix):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 2})
    acked = []
    for i in range(n):
        p.produce(
            topic,
            value=f"{prefix}{i}".encode(),
            on_delivery=lambda err, msg: acked.append(msg.value()) if err is None else None,
        )
    p.flush(30)
    return acked


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_restart_serves_every_acknowledged_record(tmp_path, stop_signal):
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=mode_args()) as b:
        create_topic(b.bootstrap, "durable", partitions=2, config={"segment.bytes": "4096"})
        acked = _produce_acked(b.bootstrap, "durable", 500, "m")
        assert len(acked) == 500
        os.killpg(b.process.pid, stop_signal)
        b.process.wait(30)
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=mode_args()) as b:
        got = confluent_consume_all(b.bootstrap, "durable", 2, 500)
        assert sorted(m.value() for m in got) == sorted(acked)
        # and the log goes on from where it was
        more = _produce_acked(b.bootstrap, "durable", 10, "n")
        assert len(more) == 10
        assert len(confluent_consume_all(b.bootstrap, "durable", 2, 510)) == 510


def test_config_file_and_flags(tmp_path):
    props = tmp_path / "server.properties"
    props.write_text("# Kafka names\nnum.partitions=4\nauto.create.topics.enable=true\nlog.dirs=/nonexistent\n")
    data = tmp_path / "data"
    with running_broker(subprocess=True, data_dir=str(data), args=["--config", str(props)] + mode_args()) as b:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        p = Producer({"bootstrap.servers": b.bootstrap})
        p.produce("auto-created", value=b"x")
        assert p.flush(20) == 0
        md = admin.list_topics(timeout=10)
        assert len(md.topics["auto-created"].partitions) == 4
        assert any("listening on" in line for line in b.extra["log"])
    assert (data / "auto-created-0").is_dir()  # --data-dir won over log.dirs in the file
