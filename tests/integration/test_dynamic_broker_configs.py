"""AlterConfigs on the broker resource: applied to open partitions and kept across restarts."""

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from hpbroker.testing import running_broker
from tests.integration.conftest import create_topic, mode_args

pytestmark = pytest.mark.integration


def _alter_broker(bootstrap, configs):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.BROKER, "0", set_config=configs)
    admin.alter_configs([res])[res].result(timeout=15)


def _describe_broker(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.BROKER, "0")
    return admin.describe_configs([res])[res].result(timeout=15)


def test_dynamic_log_config_reaches_open_partitions(broker, bootstrap, topic_name):
    if broker.server is None:
        pytest.skip("inspects the in-process broker's partitions")
    create_topic(bootstrap, topic_name)
    _alter_broker(bootstrap, {"log.segment.bytes": "123456"})
    try:
        log = broker.server.broker.replica_manager.partition(topic_name, 0).log
        assert log.config.segment_bytes == 123456
        assert _describe_broker(bootstrap)["log.segment.bytes"].source == 2  # DYNAMIC_BROKER_CONFIG
    finally:
        _alter_broker(bootstrap, {})


def test_dynamic_broker_configs_survive_restart(tmp_path):
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=mode_args()) as b:
        _alter_broker(b.bootstrap, {"log.retention.ms": "3600000"})
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=mode_args()) as b:
        got = _describe_broker(b.bootstrap)["log.retention.ms"]
        assert (got.value, got.source) == ("3600000", 2)
