"""A separate process holding its own ZooKeeper session, for the tests that kill, stop or race
processes: ``python -m tests.cluster.zk_actor CONNECT ROLE BROKER_ID SESSION_TIMEOUT_MS [N]``.

It prints one JSON object per line (``event`` and details) and runs until killed:

- ``controller``: registers as broker BROKER_ID, contends for the controller, and contends again
  whenever /controller is deleted (as every Kafka broker does). After LOST it resigns; once
  connected with a new session it registers again and tries one write fenced by the epoch it
  held (a zombie controller's write), printing whether it was fenced.
- ``broker``: registers, and registers again after each new session.
- ``blocks``: claims N producer id blocks as fast as it can, prints them and exits.
"""

import ctypes
import json
import os
import queue
import signal
import sys
import threading

from hpbroker.cluster import zk_data as zd
from hpbroker.cluster.zk_client import KafkaZkClient
from hpbroker.cluster.zk_session import ControllerMovedError, SessionState

_out = threading.Lock()


def emit(**fields):
    with _out:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def die_with_parent():
    """A test run killed before its clean-up leaves no actor behind (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(1)


def main(connect, role, broker_id, timeout_ms, n="0"):
    die_with_parent()
    broker_id = int(broker_id)
    zk = KafkaZkClient(connect, session_timeout_ms=int(timeout_ms), connection_timeout_ms=30000)
    events: queue.Queue = queue.Queue()

    def on_session(e):  # kazoo's connection thread: hand over, never call ZooKeeper here
        emit(event="session", state=e.state.value, new_session=e.new_session)
        events.put(("session", e))

    zk.add_session_listener(on_session)

    def close_and_exit(*_):  # SIGTERM: a clean close ends the session (and its ephemerals) at once
        zk.close()
        emit(event="closed")
        os._exit(0)

    signal.signal(signal.SIGTERM, close_and_exit)
    zk.start()
    if role == "blocks":
        blocks = [zk.claim_producer_id_block(broker_id) for _ in range(int(n))]
        emit(event="blocks", blocks=[[b.block_start, b.block_end] for b in blocks])
        zk.close()
        return
    info = zd.BrokerInfo(broker_id, (zd.EndPoint("PLAINTEXT", "127.0.0.1", 9000 + broker_id, "PLAINTEXT"),))
    emit(event="registered", broker_epoch=zk.register_broker(info), session=zk.session_id)
    if role == "controller":
        zk.watch_data(zd.CONTROLLER_PATH, lambda data, stat: events.put(("controller", stat is not None)))
    held = stale = None  # (epoch, epoch_zk_version) held now / held before the session was lost
    while True:
        kind, value = events.get()
        if kind == "session" and value.state is SessionState.LOST and held is not None:
            stale, held = held, None
            emit(event="resigned", epoch=stale[0])
        elif kind == "session" and value.state is SessionState.CONNECTED and value.new_session:
            emit(event="registered", broker_epoch=zk.register_broker(info), session=zk.session_id)
            if stale is not None:
                try:
                    zk.update_leader_and_isr(
                        {zd.TopicPartition("zombie", 0): zd.LeaderAndIsr(broker_id, 99, (broker_id,))},
                        stale[0],
                        stale[1],
                    )
                    emit(event="stale_write", fenced=False)
                except ControllerMovedError as exc:
                    emit(event="stale_write", fenced=True, error=str(exc))
                stale = None
        elif kind == "controller" and not value and held is None and role == "controller":
            try:
                held = zk.register_controller_and_increment_controller_epoch(broker_id)
                emit(event="elected", epoch=held[0], epoch_zk_version=held[1])
            except ControllerMovedError:
                emit(event="lost_election")


if __name__ == "__main__":
    main(*sys.argv[1:])
