"""hpbroker.testing: the context manager and the pytest plugin fixture users get."""

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from hpbroker.testing import running_broker

pytestmark = pytest.mark.integration


def test_plugin_fixture_gives_a_working_bootstrap(hpbroker_bootstrap):
    p = Producer({"bootstrap.servers": hpbroker_bootstrap})
    p.produce("plugin-topic", value=b"x")  # auto-created
    assert p.flush(15) == 0
    assert "plugin-topic" in AdminClient({"bootstrap.servers": hpbroker_bootstrap}).list_topics(timeout=10).topics


@pytest.mark.parametrize("subprocess", [False, True])
def test_context_manager_starts_and_cleans_up(subprocess):
    with running_broker(subprocess=subprocess) as b:
        md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
        assert len(md.brokers) == 1
        data_dir = b.data_dir
        proc = b.process
    import os

    assert not os.path.exists(data_dir)  # its own temporary directory is removed
    if proc is not None:
        assert proc.poll() is not None  # and the process is gone
