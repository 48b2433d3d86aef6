"""A processor's broker asks the controller (handler 0) through the ring: each Controller call
travels as the Kafka request a client would send (ForwardingController), and the answer comes
back on the response ring. Here the controller's side is a real LocalBroker serving the ring
record through the one request path, as a handler process does."""

import asyncio
import mmap

import pytest

from hpbroker import request_path
from hpbroker.broker.interface import ControllerError, Node
from hpbroker.broker.local import LocalBroker
from hpbroker.config import BrokerConfig
from hpbroker.controller.forwarding import VERSIONS, ForwardingController
from hpbroker.handlers import REGISTRY
from hpbroker.protocol.errors import ErrorCode
from hpbroker.server.multiproc import envelope as env
from hpbroker.server.multiproc.ring import Ring, ring_bytes
from hpbroker.server.multiproc.routing import CONTROLLER_HANDLER
from tests.server.multiproc.processor_fakes import HANDLERS, processor_server


class ControllerSide:
    """Handler 0's part: serve what is in its request ring, answer on the response ring."""

    def __init__(self, server, broker):
        self.server, self.broker = server, broker
        self.seen = []

    async def answer_all(self):
        ring = self.server.req_rings[CONTROLLER_HANDLER]
        while (view := ring.peek()) is not None:
            conn_id, seq, kind, api_key, version, _, _, _ = env.REQUEST.unpack_from(view)
            frame = bytearray(view[env.REQUEST.size :])
            ring.release()
            self.seen.append((conn_id, api_key, version))
            ctx, body = request_path.serve(self.broker, frame, "processor 0", request_path.encode_frame)
            if request_path.pending(body):
                body = request_path.encode_frame(ctx, await body)
            self.server.resp_rings[CONTROLLER_HANDLER].try_push(env.RESPONSE.pack(conn_id, seq, env.FRAME, 0, 0), body)
        self.server._drain()


@pytest.fixture
def sides(tmp_path):
    server = processor_server(1 << 16)
    server.resp_rings = [Ring(mmap.mmap(-1, ring_bytes(1 << 16))) for _ in range(HANDLERS)]
    broker = LocalBroker(BrokerConfig({"log.dirs": str(tmp_path)}), Node(0, "localhost", 9092))
    refreshed = []
    controller = ForwardingController(server.ask_controller, lambda: refreshed.append(1), broker.node.node_id)
    yield server, ControllerSide(server, broker), controller, refreshed
    broker.close()


def _asked(server, side, call):
    """Run ``call`` (a controller coroutine) while the controller side answers the ring."""

    async def main():
        server.loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(call)
        while not task.done():
            await asyncio.sleep(0)
            await side.answer_all()
        return task.result()

    return asyncio.run(main())


def test_each_change_travels_as_a_kafka_request_and_is_made_by_the_controller(sides):
    server, side, controller, refreshed = sides
    broker = side.broker
    _asked(server, side, controller.create_topic("auto", 3, {"retention.ms": "5000"}))
    info = broker.metadata.topics.get("auto")
    assert info.num_partitions == 3 and info.configs == {"retention.ms": "5000"}
    assert broker.replica_manager.partition("auto", 2) is not None
    _asked(server, side, controller.add_partitions("auto", 5))
    _asked(server, side, controller.set_topic_configs("auto", {"retention.ms": "9000"}))
    _asked(server, side, controller.set_broker_configs({"log.retention.ms": "7000"}))
    _asked(server, side, controller.set_broker_configs({"log.retention.ms": "8000"}, cluster_default=True))
    assert broker.metadata.topics.get("auto").num_partitions == 5
    assert broker.metadata.topics.get("auto").configs == {"retention.ms": "9000"}
    assert broker.config.dynamic == {"log.retention.ms": "7000"}
    assert broker.config.dynamic_default == {"log.retention.ms": "8000"}  # the BROKER resource ""
    first = _asked(server, side, controller.next_producer_id())
    assert _asked(server, side, controller.next_producer_id()) == first + 1
    _asked(server, side, controller.delete_topic("auto"))
    assert "auto" not in broker.metadata.topics
    # every one as a request the controller's API modules serve, from the processor's own id
    assert [k for _, k, _ in side.seen] == [19, 37, 33, 33, 33, 22, 22, 20]
    assert all(REGISTRY[k].MIN_VERSION <= v <= REGISTRY[k].MAX_VERSION and v == VERSIONS[k] for _, k, v in side.seen)
    assert {c for c, _, _ in side.seen} == {server._asks_conn_id}
    assert len(refreshed) == 8 and not server.asks  # metadata re-read after each answer


def test_the_controllers_refusals_are_controller_errors(sides):
    server, side, controller, _ = sides
    _asked(server, side, controller.create_topic("t", 1, {}))
    with pytest.raises(ControllerError) as e:
        _asked(server, side, controller.create_topic("t", 1, {}))
    assert e.value.code == ErrorCode.TOPIC_ALREADY_EXISTS
    with pytest.raises(ControllerError) as e:
        _asked(server, side, controller.add_partitions("t", 1))
    assert e.value.code == ErrorCode.INVALID_PARTITIONS
    with pytest.raises(ControllerError) as e:
        _asked(server, side, controller.delete_topic("missing"))
    assert e.value.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_a_controller_restart_fails_what_it_was_asked(sides):
    server, side, controller, _ = sides

    async def main():
        server.loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(controller.create_topic("t", 1, {}))
        while not server.asks:
            await asyncio.sleep(0)
        server.topo.incarnations[CONTROLLER_HANDLER] += 1  # handler 0 restarted: its rings were discarded
        server._incarnations[CONTROLLER_HANDLER] = server.topo.incarnations[CONTROLLER_HANDLER]
        server._handler_restarted(CONTROLLER_HANDLER)
        with pytest.raises(ControllerError) as e:
            await task
        return e.value.code

    assert asyncio.run(main()) == ErrorCode.NOT_CONTROLLER
    assert not server.asks
