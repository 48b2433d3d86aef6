"""Smoke tests: every perf script runs briefly against a real broker (Tansu, the peer, or
hpbroker) and writes a sensible JSON result. Sizes are tiny: these check the tools work, not
how fast anything is."""

import json
import shutil
import threading

import pytest

from .conftest import ROOT, run_script

pytestmark = pytest.mark.integration


def _load(path):
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def hpb():
    from hpbroker.testing import running_broker

    with running_broker(subprocess=True) as b:
        yield b


def test_produce_then_consume(hpb, tmp_path):
    # against hpbroker: Tansu (the peer the other smoke tests drive) now and then serves two of
    # three partitions and nothing of the third for as long as a consumer waits, right after an
    # idempotent lz4 produce -- a fault of the peer, not of the scripts under test
    produced = tmp_path / "produce.json"
    run_script(
        "produce_perf.py",
        "--bootstrap",
        hpb.bootstrap,
        "--topic",
        "smoke-pc",
        "--records",
        "3000",
        "--record-size",
        "200",
        "--partitions",
        "3",
        "--producers",
        "2",
        "--acks",
        "all",
        "--idempotence",
        "--compression",
        "lz4",
        "--json-out",
        str(produced),
    )
    result = _load(produced)
    assert result["records"] == 3000 and result["errors"] == 0
    assert result["mb_per_s"] > 0 and result["latency_ms"]["p99"] is not None
    assert result["machine"]["nproc"] >= 1

    consumed = tmp_path / "consume.json"
    run_script(
        "consume_perf.py",
        "--bootstrap",
        hpb.bootstrap,
        "--topic",
        "smoke-pc",
        "--consumers",
        "2",
        "--mode",
        "assign",
        "--records",
        "3000",
        "--idle-timeout",
        "5",
        "--json-out",
        str(consumed),
    )
    result = _load(consumed)
    assert result["records"] >= 3000 and result["bytes"] >= 3000 * 200
    assert 0 < result["records_per_s"] < 1e8
    assert result["errors"] == 0


def test_produce_to_another_broker(tansu, tmp_path):
    produced = tmp_path / "produce.json"
    run_script(
        "produce_perf.py",
        "--bootstrap",
        tansu.bootstrap,
        "--topic",
        "smoke-p",
        "--records",
        "2000",
        "--record-size",
        "200",
        "--partitions",
        "2",
        "--acks",
        "all",
        "--json-out",
        str(produced),
    )
    result = _load(produced)
    assert result["records"] == 2000 and result["errors"] == 0 and result["mb_per_s"] > 0


def test_e2e_latency(tansu, tmp_path):
    out = tmp_path / "e2e.json"
    run_script(
        "e2e_latency.py",
        "--bootstrap",
        tansu.bootstrap,
        "--rate",
        "400",
        "--duration",
        "1",
        "--warmup",
        "0.2",
        "--acks",
        "all",
        "--json-out",
        str(out),
    )
    result = _load(out)
    assert result["lost"] == 0 and result["measured"] == 400
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99.9"]


def test_sweep_writes_table_and_plots(tansu, tmp_path):
    run_script(
        "sweep.py",
        "--bootstrap",
        tansu.bootstrap,
        "--batch-sizes",
        "16384,65536",
        "--linger-ms",
        "0",
        "--compressions",
        "none",
        "--record-sizes",
        "500",
        "--mb-per-run",
        "0.2",
        "--out",
        str(tmp_path),
    )
    rows = _load(tmp_path / "results.json")["rows"]
    assert [r["batch_size"] for r in rows] == [16384, 65536]
    assert all(r["mb_per_s"] > 0 for r in rows)
    assert "| 500 | none |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "sweep-500B.png").read_bytes()[:4] == b"\x89PNG"


def test_floor(tmp_path):
    out = tmp_path / "floor.json"
    run_script("floor.py", "--gb", "0.05", "--file-mb", "8", "--dir", str(tmp_path), "--json-out", str(out))
    result = _load(out)
    for side in ("in", "out"):
        assert result[side]["bytes"] >= 50_000_000
        assert result[side]["gb_per_s"] > 0 and result[side]["cpu_s_per_gb"] >= 0
    assert [p.name for p in tmp_path.iterdir()] == ["floor.json"]  # its files are removed


def test_floor_alternative_receive_loops(tmp_path):
    out = tmp_path / "floor.json"
    r = run_script(
        "floor.py",
        "--gb",
        "0.15",
        "--file-mb",
        "8",
        "--dir",
        str(tmp_path),
        "--splice",
        "--mmap",
        "--json-out",
        str(out),
    )
    result = _load(out)
    for side in ("in_splice", "in_mmap"):  # 0.15 GB spans three 64 MiB windows of the mapped loop
        assert result[side]["bytes"] == 150_000_000 and result[side]["cpu_s_per_gb"] >= 0
    assert "recv into the mapped file" in r.stdout and "splice socket" in r.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["floor.json"]


def test_mmap_receive_loop_writes_exactly_what_arrives(tmp_path):
    import floor  # perf/ is on sys.path (conftest)

    results = floor._run_pair(
        floor._receive_into_mapping, (str(tmp_path / "seg"),), floor._generate, (floor.MMAP_WINDOW + 12345,), 60
    )
    assert results[0] == floor.MMAP_WINDOW + 12345
    assert (tmp_path / "seg").stat().st_size == floor.MMAP_WINDOW + 12345


def test_cold_cache(tmp_path):
    out = tmp_path / "cold.json"
    run_script(
        "cold_cache.py", "--requests", "20", "--sizes", "0,65536", "--dir", str(tmp_path), "--json-out", str(out)
    )
    rows = _load(out)["rows"]
    assert [r["copy_bytes"] for r in rows] == [0, 65536] and all(r["us_per_request"] > 0 for r in rows)
    assert [p.name for p in tmp_path.iterdir()] == ["cold.json"]  # the broker's data is removed


def test_hop_cost(tmp_path):
    out = tmp_path / "hop.json"
    run_script("hop_cost.py", "--round-trips", "200", "--requests", "20", "--json-out", str(out))
    result = _load(out)
    assert [w["one_core"] for w in result["wake_round_trips"]] == [False, True]
    assert all(w["wall_us"] > 0 for w in result["wake_round_trips"])
    assert result["split_and_join"]["split_us"] > 0 and result["split_and_join"]["join_us"] > 0


def test_mp_perf_splits_the_hop_by_role(tmp_path):
    r = run_script(
        "mp_perf.py",
        "--topologies",
        "0/0,1/1",
        "--connections",
        "1",
        "--messages",
        "50000",
        "--data-root",
        str(tmp_path),
        timeout=120,
    )
    rows = [line for line in r.stdout.splitlines() if line.startswith("| in-process") or line.startswith("| 1/1")]
    assert len(rows) == 6, r.stdout  # the throughput table, the per-role table, the client threads
    roles = [[c.strip() for c in line.strip("|").split("|")] for line in rows[2:4]]
    inproc, hop = roles
    assert inproc[2] == "+0.0%" and hop[2].endswith("%")
    # in-process: only the main process works; 1/1: the processor and the handler do, and wake
    assert float(inproc[4]) == float(inproc[5]) == 0.0 and int(inproc[6]) > 0
    assert float(hop[4]) + float(hop[5]) > 0 and int(hop[7]) > 0 and int(hop[8]) > 0
    assert float(inproc[9]) > 0 and float(hop[9]) > 0  # the producers' own CPU per GB
    for role, threads in zip(roles, ([c.strip() for c in line.strip("|").split("|")] for line in rows[4:])):
        app, rdk, sleeps = float(threads[2]), float(threads[3]), int(threads[4])
        assert app > 0 and rdk > 0 and sleeps >= 0
        assert app + rdk <= float(role[9]) + 0.01  # a split of the client's CPU, not more than it
    assert list(tmp_path.iterdir()) == []  # the brokers' data dirs are removed


def test_client_threads_between_splits_the_caller_from_librdkafka():
    import _common

    before = {1: ("python", 1.0, 5), 2: ("rdk:broker0", 2.0, 10), 3: ("rdk:main", 0.5, 1), 4: ("other", 9.0, 0)}
    after = {
        1: ("python", 3.0, 6),
        2: ("rdk:broker0", 2.5, 30),
        3: ("rdk:main", 0.75, 4),
        4: ("other", 9.5, 0),
        5: ("rdk:broker1", 0.25, 7),
    }  # a thread started in between counts from zero
    got = _common.client_threads_between(before, after, caller=1)
    assert got == {"app_cpu": 2.0, "librdkafka_cpu": 1.0, "librdkafka_broker_sleeps": 27}
    now = _common.own_threads_sample()
    assert threading.get_native_id() in now and all(cpu >= 0 and vol >= 0 for _, cpu, vol in now.values())


def test_startup_perf(tmp_path):
    out = tmp_path / "startup.json"
    run_script("startup_perf.py", "--batches", "300", "--dir", str(tmp_path), "--json-out", str(out))
    r = _load(out)
    assert r["batches"] == 300 and r["with_snapshot_ms"] > 0 and r["without_snapshot_ms"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["startup.json"]


def test_cleaner_perf(tmp_path):
    out = tmp_path / "cleaner.json"
    run_script("cleaner_perf.py", "--mib", "4", "--keys", "100", "--dir", str(tmp_path), "--json-out", str(out))
    r = _load(out)["result"]
    assert r["records"] > 0 and r["records_dropped"] > 0 and 0 < r["kept_bytes"] < r["log_bytes"]
    assert [p.name for p in tmp_path.iterdir()] == ["cleaner.json"]


def test_cleaner_latency():
    r = run_script("cleaner_latency.py", "--seconds", "1", "--rate", "200", "--backlog-seconds", "1", timeout=90)
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith("cleaner on: ") and " passes; e2e latency ms p50 " in line, r.stdout


def test_compare_starts_both_brokers_and_stops_them(tmp_path):
    """compare.py starts 'hpbroker' from a command template (here a stand-in that runs Tansu
    and prints hpbroker's readiness line) and the Tansu peer, runs every workload on both,
    and leaves no broker behind."""
    import _brokers

    if _brokers.tansu_binary() is None:
        pytest.skip("no Tansu binary")
    fake = ROOT / "tests" / "perf_tools" / "fake_hpbroker.py"
    out = tmp_path / "compare.json"
    run_script(
        "compare.py",
        "--hpbroker-cmd",
        f"{{python}} {fake} --port {{port}} --data-dir {{data_dir}}",
        "--rounds",
        "1",
        "--records-1k",
        "2000",
        "--records-100b",
        "5000",
        "--e2e-rate",
        "500",
        "--e2e-duration",
        "0.5",
        "--floor-gb",
        "0.02",
        "--json-out",
        str(out),
        timeout=90,
    )
    result = _load(out)
    assert [row["workload"].split(",")[0] for row in result["summary"]] == [
        "produce 1 partition",
        "produce 6 partitions",
        "consume from the beginning",
        "e2e latency",
    ]
    for row in result["summary"]:
        assert row["hpbroker"] and row["peer"] and row["ratio"]
    assert result["summary"][0]["hpbroker_cpu_s_per_gb"] is not None
    # the floor is measured at the start of every round, and each run is divided by its own
    assert len(result["floor"]) == 1 and result["floor"][0]["in"]["cpu_s_per_gb"] > 0
    assert result["summary"][0]["hpbroker_x_floor"] is not None
    assert "| produce 1 partition, 1 KB, acks=all |" in out.with_suffix(".md").read_text()
    for bootstrap in result["brokers"].values():
        host, port = bootstrap.split(":")
        assert not _brokers.port_open(host, int(port)), f"a broker still listens on {bootstrap}"


def test_locust_produces_and_consumes(tansu, tmp_path):
    run_script(
        "-m",
        "locust",
        "-f",
        str(ROOT / "loadtest" / "locustfile.py"),
        "--headless",
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "3s",
        "--host",
        tansu.bootstrap,
        "--kafka-topic",
        "smoke-locust",
        "--csv",
        str(tmp_path / "run"),
        "--only-summary",
        timeout=60,
    )
    stats = (tmp_path / "run_stats.csv").read_text().splitlines()
    counts = {line.split(",")[0]: int(line.split(",")[2]) for line in stats[1:]}
    assert counts.get("produce", 0) > 0 and counts.get("consume", 0) > 0, stats


def test_mp_perf_runs_each_scheduling_policy_pinned(tmp_path):
    r = run_script(
        "mp_perf.py",
        "--topologies",
        "0/0",
        "--connections",
        "1",
        "--messages",
        "20000",
        "--scheduling",
        "batch,normal",
        "--pin-clients",
        "0",
        "--pin-broker",
        "0",
        "--data-root",
        str(tmp_path),
        timeout=120,
    )
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in r.stdout.splitlines()
        if line.startswith("| in-process")
    ]
    assert [row[1] for row in rows[:2]] == ["batch", "normal"], r.stdout  # the variant column
    # the per-role table, then the client threads' table
    assert [row[0] for row in rows[2:]] == ["in-process (batch)", "in-process (normal)"] * 2, r.stdout
    assert "round 1/1 0/0 batch x1: produce" in r.stderr and "round 1/1 0/0 normal x1" in r.stderr


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat not installed (.ci/run installs it)")
def test_mp_perf_produces_with_kcat(tmp_path):
    # one connection (kcat's own partitioner) and two (one partition each): the script checks
    # that every value was delivered and read back, and exits non-zero otherwise
    r = run_script(
        "mp_perf.py",
        "--producer",
        "kcat",
        "--topologies",
        "0/0",
        "--connections",
        "1,2",
        "--messages",
        "20000",
        "--data-root",
        str(tmp_path),
        timeout=120,
    )
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in r.stdout.splitlines()
        if line.startswith("| in-process")
    ]
    assert [row[1] for row in rows[:2]] == ["1", "2"], r.stdout
    assert all(float(row[2]) > 0 and float(row[5]) > 0 for row in rows[:2])  # produce and consume MB/s
    assert all(float(row[9]) > 0 for row in rows[2:])  # kcat's CPU, counted as the client's
    assert list(tmp_path.iterdir()) == []  # the values file and the data dirs are removed


def test_mp_perf_write_values_makes_kcat_input(tmp_path):
    import mp_perf

    path = tmp_path / "values"
    mp_perf.write_values(str(path), 2500, 100)
    data = path.read_bytes()
    assert len(data) == 2500 * 100 and data.count(b"\n") == 2500 and data.endswith(b"x" * 99 + b"\n")


class _Recorder:
    """Stands in for confluent_kafka.Consumer and the scripts' start events, and records the
    order of the calls that matter: whether partitions are assigned before the clock starts."""

    def __init__(self, calls, records):
        self.calls, self.records = calls, records

    def __call__(self, config):  # Consumer(config)
        return self

    def list_topics(self, *a, **k):
        self.calls.append("connect")

    def assign(self, partitions):
        self.calls.append("assign")

    def subscribe(self, topics):
        self.calls.append("subscribe")

    def consume(self, n, timeout):
        got, self.records = self.records[:n], self.records[n:]
        return got

    def close(self):
        pass

    def wait(self, *a):  # start.wait() / go.wait()
        self.calls.append("clock starts")


class _Message:
    def error(self):
        return None

    def __len__(self):
        return 10


def test_mp_perf_consumer_is_assigned_only_once_the_clock_runs(monkeypatch):
    # librdkafka fetches from assign(): assigned before the clock, a consumer read ahead while
    # the clients settled, off the clock and off the broker's CPU sample
    import queue

    import confluent_kafka
    import mp_perf

    calls = []
    fake = _Recorder(calls, [_Message()] * 5)
    monkeypatch.setattr(confluent_kafka, "Consumer", fake)
    done = queue.Queue()
    mp_perf._consumer("127.0.0.1:1", "t", [0, 1], 5, fake, done)
    assert calls == ["connect", "clock starts", "assign"] and done.get_nowait() == 5


@pytest.mark.parametrize("mode", ["assign", "group"])
def test_consume_perf_worker_is_assigned_only_after_go(monkeypatch, mode):
    import multiprocessing
    import queue

    import confluent_kafka
    import consume_perf

    calls = []
    fake = _Recorder(calls, [_Message()] * 5)
    monkeypatch.setattr(confluent_kafka, "Consumer", fake)
    ready, results = queue.Queue(), queue.Queue()
    args = {
        "bootstrap": "127.0.0.1:1",
        "topic": "t",
        "client_config": {},
        "mode": mode,
        "quiet": True,
        "idle_timeout": 0.1,
    }
    consume_perf._worker(0, args, [0], "g", 5, multiprocessing.Value("q", 0), ready, fake, results)
    assert calls == ["connect", "clock starts", "assign" if mode == "assign" else "subscribe"]
    assert results.get_nowait()["records"] == 5
