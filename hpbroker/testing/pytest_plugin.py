"""pytest plugin (entry point ``hpbroker``): fixtures that run a real hpbroker.

- ``hpbroker_broker``: a ``RunningBroker`` per test module (in-process, free port, temp dir);
  set ``HPBROKER_TEST_SUBPROCESS=1`` to run it as a separate process instead.
- ``hpbroker_bootstrap``: its bootstrap address, "host:port".
"""
from __future__ import annotations

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
