"""pytest plugin (entry point ``hpbroker``): fixtures that run a real hpbroker, and ZooKeeper.

- ``hpbroker_broker``: a ``RunningBroker`` per test module (in-process, free port, temp dir);
  set ``HPBROKER_TEST_SUBPROCESS=1`` to run it as a separate process instead.
- ``hpbroker_bootstrap``: its bootstrap address, "host:port".
- ``zookeeper_server``: one real ZooKeeper (``hpbroker.testing.zookeeper.ZooKeeperServer``) for
  the whole test session. Tests share it, so they must not stop, kill or pause it: a test that
  does uses ``private_zookeeper`` instead.
- ``zookeeper_connect``: "host:port/<chroot>" on the shared server, a chroot of the test's own
  (not created: KafkaZkClient creates its chroot, as Kafka does), so no test sees another's
  znodes.
- ``private_zookeeper``: a ZooKeeper of the test's own, to restart, kill or pause.
- ``hpbroker_cluster``: a cluster of three hpbroker subprocesses (broker ids 1-3) on the shared
  ZooKeeper, in a chroot of their own (hpbroker.testing.cluster), for one test.

The ZooKeeper fixtures skip the test, saying why, where java or the Debian zookeeper jar is
missing (``apt-get install zookeeper``).
"""

from __future__ import annotations

import re
import uuid

import pytest

from hpbroker import environment
from hpbroker.testing import running_broker


@pytest.fixture(scope="module")
def hpbroker_broker():
    sub = environment.flag("HPBROKER_TEST_SUBPROCESS")
    with running_broker(subprocess=sub) as broker:
        yield broker


@pytest.fixture(scope="module")
def hpbroker_bootstrap(hpbroker_broker):
    return hpbroker_broker.bootstrap


def _skip_without_zookeeper():
    from hpbroker.testing.zookeeper import zookeeper_unavailable

    reason = zookeeper_unavailable()
    if reason:
        pytest.skip(f"no ZooKeeper to test against: {reason}")


@pytest.fixture(scope="session")
def zookeeper_server():
    _skip_without_zookeeper()
    from hpbroker.testing.zookeeper import ZooKeeperServer

    with ZooKeeperServer() as zk:
        yield zk


@pytest.fixture
def zookeeper_connect(zookeeper_server, request):
    zookeeper_server.start()  # no-op while it runs; brings it back if a test broke the rule
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    return f"{zookeeper_server.connect}/{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def private_zookeeper():
    _skip_without_zookeeper()
    from hpbroker.testing.zookeeper import ZooKeeperServer

    with ZooKeeperServer() as zk:
        yield zk


@pytest.fixture
def hpbroker_cluster(zookeeper_server):
    from hpbroker.testing.cluster import running_cluster

    zookeeper_server.start()
    with running_cluster(3, zookeeper=zookeeper_server) as cluster:
        yield cluster
