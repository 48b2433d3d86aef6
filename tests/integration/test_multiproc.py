"""The multi-process topology's supervisor: restarts after SIGKILL, clean stop on SIGTERM.

These tests always run ``--processors 2 --handlers 2`` (whatever HPBROKER_TEST_MODE says): they
test the supervisor itself.
"""

import glob
import os
import re
import signal
import threading
import time

import psutil
import pytest
from confluent_kafka import Producer

from hpbroker.protocol.errors import ErrorCode
from hpbroker.records.builder import build_batch
from hpbroker.server import scheduling
from hpbroker.server.multiproc.topology import control_layout
from hpbroker.testing import running_broker, wait_until
from tests.integration.conftest import MULTIPROC_ARGS, confluent_consume_all, create_topic
from tests.integration.groupclients import groups_on_every_handler
from tests.integration.rawclient import RawClient

pytestmark = pytest.mark.integration

_READY = re.compile(r"(handler|processor) (\d+) ready \(pid (\d+)\)")


def _children(b, role):
    """role index -> pid of the latest incarnation, from the broker's log."""
    out = {}
    for line in list(b.extra["log"]):
        m = _READY.search(line)
        if m and m.group(1) == role:
            out[int(m.group(2))] = int(m.group(3))
    return out


def _logged(b, pattern) -> list[int]:
    """The numbers ``pattern`` captures in the broker's log (drained by a thread, so the last
    lines of a stopped broker may come a moment after its exit)."""
    return [int(n) for n in re.findall(pattern, "".join(b.extra["log"]))]


def _wait_for(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _shm():
    return set(glob.glob("/dev/shm/hpbroker-*"))


def test_sigterm_stops_every_child_and_unlinks_shared_memory(tmp_path):
    before = _shm()
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=MULTIPROC_ARGS) as b:
        sup = b.process.pid
        mine = {p for p in _shm() - before if f"hpbroker-{sup}-" in p}
        assert len(mine) == 5, mine  # control, rings, metadata, stats, snapshots: named after the supervisor
        assert _wait_for(lambda: len(_children(b, "processor")) == 2)
        kids = [c.pid for c in psutil.Process(sup).children()]
        assert len(kids) == 4
        # each child names its role, as ps and top show it
        assert sorted(psutil.Process(pid).name() for pid in kids) == ["hpb-h0", "hpb-h1", "hpb-p0", "hpb-p1"]
        create_topic(b.bootstrap, "t", partitions=2)
        os.kill(sup, signal.SIGTERM)  # the supervisor alone: it must stop its children itself
        assert b.process.wait(60) == 0
        for pid in kids:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        # only this broker's segments: other brokers on the machine may come and go meanwhile
        assert {p for p in _shm() if f"hpbroker-{sup}-" in p} == set()
        log = "".join(b.extra["log"])
        assert "handler 0 stopped cleanly" in log and "handler 1 stopped cleanly" in log


def _produce_while(bootstrap, topic, stop, acked, errors):
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 60000,
        }
    )
    i = 0

    def done(err, msg):
        if err is None:
            acked.append(msg.value())
        else:
            errors.append(err)

    while not stop.is_set():
        p.produce(topic, value=b"m%d" % i, partition=i % 4, on_delivery=done)
        i += 1
        if i % 200 == 0:
            p.poll(0.01)
    assert p.flush(60) == 0


@pytest.mark.parametrize("role", ["handler", "processor"])
def test_sigkilled_child_is_restarted_and_no_acknowledged_record_is_lost(tmp_path, role):
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=MULTIPROC_ARGS) as b:
        create_topic(b.bootstrap, "durable", partitions=4)
        assert _wait_for(lambda: len(_children(b, "processor")) == 2)
        stop, acked, errors = threading.Event(), [], []
        t = threading.Thread(target=_produce_while, args=(b.bootstrap, "durable", stop, acked, errors))
        t.start()
        try:
            assert _wait_for(lambda: len(acked) > 2000)
            victim = _children(b, role)[0]
            os.kill(victim, signal.SIGKILL)
            assert _wait_for(lambda: _children(b, role).get(0) not in (None, victim)), "not restarted"
            assert psutil.Process(_children(b, role)[0]).name() == f"hpb-{role[0]}0"
            n = len(acked)
            assert _wait_for(lambda: len(acked) > n + 2000, 60), "producing did not resume"
        finally:
            stop.set()
            t.join(90)
        assert not errors, errors[:3]
        got = confluent_consume_all(b.bootstrap, "durable", 4, len(acked), timeout=60)
        values = [m.value() for m in got]
        assert set(acked) <= set(values)
        assert len(values) == len(set(values)), "an idempotent producer's retry was appended twice"
        log = "".join(b.extra["log"])
        assert "died with signal 9; restarting it" in log
        assert "died with exit code" not in log, "the restarted child did not stay up"


def test_handler_restarted_after_sigkill_does_not_load_preallocated_index_tails(tmp_path):
    """SIGKILL leaves every active segment's indexes at their preallocated 10 MiB; the restarted
    handler must not copy them whole (~20 MiB resident per partition, ~800 MiB for 40)."""
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=["--processors", "1", "--handlers", "1"]) as b:
        create_topic(b.bootstrap, "wide", partitions=40)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
        for i in range(400):
            p.produce("wide", value=b"v%d" % i, partition=i % 40)
        assert p.flush(30) == 0
        victim = _children(b, "handler")[0]
        os.kill(victim, signal.SIGKILL)
        assert _wait_for(lambda: _children(b, "handler").get(0) not in (None, victim)), "not restarted"
        got = confluent_consume_all(b.bootstrap, "wide", 40, 400, timeout=60)  # recovered, serving
        assert len(got) == 400
        rss = psutil.Process(_children(b, "handler")[0]).memory_info().rss
        assert rss < 250 * 2**20, f"restarted handler holds {rss >> 20} MiB"


def test_a_restarted_processor_drops_what_its_predecessor_counted(tmp_path):
    """Each processor publishes the connections it holds, per client address, in the control
    segment (server/connection_quotas.py); the connections of a processor killed with SIGKILL
    die with it, so its successor clears what its predecessor published before it accepts:
    left there, those counts would refuse connections from that address at the other processors."""
    with running_broker(
        subprocess=True, data_dir=str(tmp_path), args=MULTIPROC_ARGS, config={"max.connections.per.ip": "2"}
    ) as b:
        assert _wait_for(lambda: len(_children(b, "processor")) == 2)
        (control,) = [path for path in _shm() if path.endswith(f"-{b.process.pid}-control")]
        _, counts_at, size = control_layout(2, 2)

        def published():
            with open(control, "rb") as f:
                f.seek(counts_at)
                return sum(memoryview(f.read(size - counts_at)).cast("q"))

        held = [RawClient(b.bootstrap) for _ in range(2)]
        try:
            assert [c.request(18, 0, {})["error_code"] for c in held] == [0, 0]
            assert published() > 0
            victims = _children(b, "processor")
            for pid in victims.values():
                os.kill(pid, signal.SIGKILL)
            assert _wait_for(
                lambda: all(_children(b, "processor").get(i) not in (None, pid) for i, pid in victims.items())
            ), "not restarted"
            assert published() == 0
            again = [RawClient(b.bootstrap, timeout=5) for _ in range(2)]
            held += again
            assert [c.request(18, 0, {})["error_code"] for c in again] == [0, 0]
        finally:
            for c in held:
                c.close()


def _commit(raw, group, topic, offset):
    r = raw.request(
        8,
        7,
        {
            "group_id": group,
            "generation_id_or_member_epoch": -1,
            "member_id": "",
            "group_instance_id": None,
            "topics": [
                {
                    "name": topic,
                    "partitions": [
                        {
                            "partition_index": 0,
                            "committed_offset": offset,
                            "committed_leader_epoch": 0,
                            "committed_metadata": "",
                        }
                    ],
                }
            ],
        },
    )
    return r["topics"][0]["partitions"][0]["error_code"]


def _committed(raw, group, topic):
    r = raw.request(9, 5, {"group_id": group, "topics": [{"name": topic, "partition_indexes": [0]}]})
    return r["error_code"] or r["topics"][0]["partitions"][0]["committed_offset"]


def test_group_coordinators_live_on_every_handler_and_reload_after_sigkill(tmp_path):
    """Each handler coordinates the groups of the __consumer_offsets partitions it owns. Before
    that topic exists a group request goes to the controller, which creates it and answers
    NOT_COORDINATOR for a group another handler coordinates; the client asks again. A handler
    killed with SIGKILL reloads its groups and their committed offsets from its partitions."""
    config = {"offsets.topic.num.partitions": "10"}
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=MULTIPROC_ARGS, config=config) as b:
        create_topic(b.bootstrap, "t", partitions=1)
        groups = groups_on_every_handler()  # handler 0, handler 1, handler 0, handler 1
        with RawClient(b.bootstrap) as raw:
            assert _commit(raw, groups[1], "t", 1) == ErrorCode.NOT_COORDINATOR  # creates the topic
            for i, g in enumerate(groups):
                assert _commit(raw, g, "t", 100 + i) == 0
            assert _wait_for(lambda: len(_children(b, "handler")) == 2)
        victim = _children(b, "handler")[1]
        os.kill(victim, signal.SIGKILL)
        assert _wait_for(lambda: _children(b, "handler").get(1) not in (None, victim)), "not restarted"
        with RawClient(b.bootstrap) as raw:
            assert [_committed(raw, g, "t") for g in groups] == [100, 101, 102, 103]
            listed = {x["group_id"] for x in raw.request(16, 2, {})["groups"]}
            assert set(groups) <= listed
            assert _commit(raw, groups[3], "t", 7) == 0  # the restarted coordinator takes writes
            assert _committed(raw, groups[3], "t") == 7


def test_full_request_rings_pause_clients_and_lose_nothing(tmp_path, monkeypatch):
    """32 KiB request rings fill up under three pipelining producers: processors stop reading
    those sockets until the handler frees space (never an unbounded queue), and every record
    lands exactly once."""
    monkeypatch.setenv("HPBROKER_REQUEST_RING_BYTES", str(1 << 15))
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=MULTIPROC_ARGS) as b:
        create_topic(b.bootstrap, "bp", partitions=4)
        acked, errors = [], []

        def produce(k):
            # many small requests in flight (not idempotent: no limit of 5 in flight)
            p = Producer({"bootstrap.servers": b.bootstrap, "acks": "1", "batch.size": 2048, "linger.ms": 0})
            for i in range(4000):
                p.produce(
                    "bp",
                    value=b"%d-%d-" % (k, i) + b"x" * 900,
                    partition=i % 4,
                    on_delivery=lambda err, msg: (errors if err else acked).append(err or msg.value()),
                )
                if i % 500 == 0:
                    p.poll(0)
            assert p.flush(60) == 0

        threads = [threading.Thread(target=produce, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[:3]
        assert len(acked) == 12000
        got = confluent_consume_all(b.bootstrap, "bp", 4, 12000, timeout=60)
        assert sorted(m.value() for m in got) == sorted(acked)
        os.kill(b.process.pid, signal.SIGTERM)
        assert b.process.wait(60) == 0
        pause_counts = r"(\d+) ring-full pauses"
        wait_until(lambda: len(_logged(b, pause_counts)) == 2, 10, "both processors' ring-full pause counts in the log")
        pauses = _logged(b, pause_counts)
        assert sum(pauses) > 0, "the rings never filled: the test did not exercise back-pressure"


def test_large_produce_requests_are_received_into_ring_records_intact(tmp_path):
    """Produce requests of several hundred KiB, each spanning both handlers: processors take
    some of them straight into a ring record (the rest of the frame already in the kernel's
    receive buffer), and every record lands exactly once, byte for byte."""
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=MULTIPROC_ARGS) as b:
        create_topic(b.bootstrap, "big", partitions=4)
        acked, errors = [], []
        p = Producer(
            {
                "bootstrap.servers": b.bootstrap,
                "acks": "all",
                "linger.ms": 20,
                "batch.size": 1_000_000,
                "compression.type": "none",
            }
        )
        for i in range(600):
            value = b"%d-" % i + os.urandom(16) * 2500  # 40 KB, incompressible enough
            p.produce(
                "big",
                value=value,
                partition=i % 4,
                on_delivery=lambda err, msg: (errors if err else acked).append(err or msg.value()),
            )
            if i % 50 == 0:
                p.poll(0)
        assert p.flush(60) == 0
        assert not errors, errors[:3]
        got = confluent_consume_all(b.bootstrap, "big", 4, 600, timeout=60)
        assert sorted(m.value() for m in got) == sorted(acked) and len(acked) == 600
        os.kill(b.process.pid, signal.SIGTERM)
        assert b.process.wait(60) == 0
        taken_counts = r"(\d+) large frames received into a ring record"
        wait_until(lambda: len(_logged(b, taken_counts)) == 2, 10, "both processors' ring-record counts in the log")
        taken = _logged(b, taken_counts)
        assert sum(taken) > 0, "no Produce request took the ring-record path"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_every_process_runs_the_chosen_event_loop(tmp_path, loop):
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=MULTIPROC_ARGS + ["--event-loop", loop]) as b:
        create_topic(b.bootstrap, "loop", partitions=4)
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
        for i in range(2000):
            p.produce("loop", value=b"%d" % i, partition=i % 4)
        assert p.flush(30) == 0
        got = confluent_consume_all(b.bootstrap, "loop", 4, 2000, timeout=30)
        assert sorted(int(m.value()) for m in got) == list(range(2000))
        assert f"2 handlers, {loop} loop," in "".join(b.extra["log"])


@pytest.mark.parametrize("flag,policy", [("normal", "SCHED_OTHER"), ("batch", "SCHED_BATCH")])
def test_every_process_runs_the_chosen_scheduling_policy(tmp_path, monkeypatch, flag, policy):
    """What --scheduling says (server/scheduling.py), in the supervisor, every child, and a child
    restarted after SIGKILL."""
    monkeypatch.delenv("HPBROKER_SCHEDULING", raising=False)
    expected = getattr(os, policy)
    args = MULTIPROC_ARGS + ["--scheduling", flag]
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=args) as b:
        assert _wait_for(lambda: len(_children(b, "processor")) == 2 and len(_children(b, "handler")) == 2)
        tree = [b.process.pid] + list(_children(b, "processor").values()) + list(_children(b, "handler").values())
        assert [os.sched_getscheduler(pid) for pid in tree] == [expected] * 5
        victim = _children(b, "handler")[1]
        os.kill(victim, signal.SIGKILL)
        assert _wait_for(lambda: _children(b, "handler").get(1) not in (None, victim)), "not restarted"
        assert os.sched_getscheduler(_children(b, "handler")[1]) == expected
        create_topic(b.bootstrap, "sched", partitions=4)
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
        for i in range(500):
            p.produce("sched", value=b"%d" % i, partition=i % 4)
        assert p.flush(30) == 0
        assert f"{flag} scheduling)" in "".join(b.extra["log"])


def _policies(b):
    pids = list(_children(b, "processor").values()) + list(_children(b, "handler").values())
    return [os.sched_getscheduler(pid) for pid in pids]


def _bulk_while(p, topic, more, value=b"x" * 10000):
    """Values of 10 kB round-robin over 4 partitions while ``more(i)`` holds for the i-th,
    waiting in poll whenever librdkafka's queue is full."""
    i = 0
    while more(i):
        while True:
            try:
                p.produce(topic, value=value, partition=i % 4)
                break
            except BufferError:
                p.poll(0.01)
        i += 1


@pytest.mark.timing  # needs hundreds of MB/s to go to batch: judged by the machine's speed
def test_adaptive_scheduling_by_default_batch_under_a_bulk_load_only(tmp_path, monkeypatch):
    """By default processors and handlers start under the normal policy, the one moving bytes in
    bulk goes to batch while it does, and every one is back under normal once the load is over."""
    monkeypatch.delenv("HPBROKER_SCHEDULING", raising=False)
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=MULTIPROC_ARGS) as b:
        assert _wait_for(lambda: len(_children(b, "processor")) == 2 and len(_children(b, "handler")) == 2)
        assert "2 handlers, asyncio loop, adaptive scheduling)" in "".join(b.extra["log"])
        assert _policies(b) == [os.SCHED_OTHER] * 4
        create_topic(b.bootstrap, "bulk", partitions=4)
        seen = set()
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                seen.update(_policies(b))
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            p = Producer(
                {
                    "bootstrap.servers": b.bootstrap,
                    "acks": "1",
                    "linger.ms": 5,
                    "batch.size": 1000000,
                    "queue.buffering.max.kbytes": 1048576,
                }
            )
            # 400 MB, hundreds of MB/s on any machine that runs this suite
            _bulk_while(p, "bulk", lambda i: i < 40000)
            assert p.flush(120) == 0
        finally:
            stop.set()
            watcher.join()
        assert os.SCHED_BATCH in seen, "no process went to batch under a bulk load"
        assert _wait_for(lambda: _policies(b) == [os.SCHED_OTHER] * 4, 10), "not back to normal when idle"


@pytest.mark.timing  # wall-clock delays of the switch to batch, and MB/s
def test_adaptive_scheduling_sees_a_load_after_a_quiet_spell_within_one_busy_tick(tmp_path, monkeypatch):
    """After a quiet spell every child's safety tick has backed off to a second. The first
    request of a new load brings it back to 50 ms and starts the load's measurement there
    (SafetyPeriod.backed_off, scheduling.restart_window), so each process the load reaches is
    under batch within a few ticks of its start, not after a tick up to a second away."""
    monkeypatch.delenv("HPBROKER_SCHEDULING", raising=False)
    with running_broker(subprocess=True, data_dir=str(tmp_path), args=MULTIPROC_ARGS) as b:
        assert _wait_for(lambda: len(_children(b, "processor")) == 2 and len(_children(b, "handler")) == 2)
        create_topic(b.bootstrap, "burst", partitions=4)
        p = Producer(
            {
                "bootstrap.servers": b.bootstrap,
                "acks": "1",
                "linger.ms": 5,
                "batch.size": 1000000,
                "queue.buffering.max.kbytes": 1048576,
            }
        )
        for i in range(4):  # connected, metadata known: the burst below is Produce requests only
            p.produce("burst", value=b"warm", partition=i)
        assert p.flush(10) == 0
        time.sleep(3.0)  # every tick backs off: 0.05, 0.1, ... 0.8, then 1 s
        processors, handlers = list(_children(b, "processor").values()), list(_children(b, "handler").values())
        pids = processors + handlers
        assert _policies(b) == [os.SCHED_OTHER] * 4
        first_batch: dict[int, float] = {}
        appended: dict[int, list[tuple[float, int]]] = {pid: [] for pid in handlers}
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                now = time.monotonic()
                for pid in pids:
                    if pid not in first_batch and os.sched_getscheduler(pid) == os.SCHED_BATCH:
                        first_batch[pid] = now
                for pid in handlers:
                    appended[pid].append((now, _written(pid)))
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        t0 = time.monotonic()
        watcher.start()
        try:
            # 1.5 s: long enough for a tick a second away to come too
            _bulk_while(p, "burst", lambda i: i % 1000 or time.monotonic() - t0 < 1.5)
            assert p.flush(120) == 0
        finally:
            stop.set()
            watcher.join()
        assert first_batch, "no process went to batch under a bulk load"
        after = {pid: round(first_batch.get(pid, float("inf")) - t0, 3) for pid in pids}
        # The processor that owns the producer's connection receives the whole load. A handler
        # moves only its own partitions' bytes: on a slow machine its share may sit between the
        # thresholds, where no tick switches it. So a handler is judged only if it appended at
        # twice BULK_BYTES_S over the first IN_TIME_S: some busy tick of that spell saw bulk.
        fed = {pid: round(_rate(appended[pid], t0, t0 + IN_TIME_S) / 1e6) for pid in handlers}
        judged = [pid for pid in handlers if fed[pid] * 1e6 >= 2 * scheduling.BULK_BYTES_S]
        late = {pid: after[pid] for pid in judged if after[pid] > IN_TIME_S}
        assert not late, f"went to batch only this long after the load began: {late} (handlers' MB/s: {fed})"
        assert min(after[pid] for pid in processors) <= IN_TIME_S, f"no processor in time: {after}"


IN_TIME_S = 0.45  # a few busy ticks (50 ms) after the load began


def _written(pid):
    """Bytes process ``pid`` has written (wchar of /proc/PID/io: a handler's appends)."""
    try:
        with open(f"/proc/{pid}/io") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))
    except (OSError, StopIteration):
        return 0


def _rate(samples, start, end):
    """Bytes per second between the samples nearest ``start`` and ``end``."""
    inside = [(t, n) for t, n in samples if start <= t <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return 0.0
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def test_one_handler_forwards_undecoded_and_a_broken_body_still_closes(tmp_path):
    """With one handler the processor forwards without decoding the body: a Produce or group
    request whose body does not decode must still close its connection (the handler's answer),
    and everyone else is served."""
    import struct

    from tests.integration.rawclient import RawClient, produce_body, produce_result

    with running_broker(subprocess=True, data_dir=str(tmp_path), args=["--processors", "1", "--handlers", "1"]) as b:
        with RawClient(b.bootstrap) as ok:
            body = {
                "topics": [
                    {"name": "one", "num_partitions": 2, "replication_factor": 1, "assignments": [], "configs": []}
                ],
                "timeout_ms": 5000,
                "validate_only": False,
            }
            assert ok.request(19, 4, body)["topics"][0]["error_code"] == 0
            for api_key, version in ((0, 8), (11, 5), (8, 7)):  # Produce, JoinGroup, OffsetCommit
                with RawClient(b.bootstrap) as bad:
                    frame = struct.pack(">hhih", api_key, version, 5, 1) + b"x" + struct.pack(">i", 1000)
                    bad.sock.sendall(struct.pack(">i", len(frame)) + frame)
                    assert bad.is_closed_by_peer()
            resp = ok.request(0, 8, produce_body("one", 1, build_batch([b"still served"])))
            assert produce_result(resp) == (0, 0)
