import pytest

from tests.handlers.harness import BrokerHarness


@pytest.fixture
def harness(tmp_path):
    """A LocalBroker over ``tmp_path``, served through the one request path."""
    h = BrokerHarness(tmp_path)
    yield h
    h.close()
