import pytest

from tests.cluster.helpers import Actor


@pytest.fixture
def actors():
    """Start actors with ``actors(connect, role, broker_id, ...)``; all are killed afterwards."""
    started = []

    def start(*args, **kw):
        a = Actor(*args, **kw)
        started.append(a)
        return a

    yield start
    for a in started:
        a.stop()
