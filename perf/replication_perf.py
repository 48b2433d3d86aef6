"""Replication on three brokers and a ZooKeeper on this machine: what replication factor 3 costs
produce throughput and CPU, end-to-end latency with acks=all, how fast a follower catches up, and
how fast leadership moves when a leader dies or shuts down.

    python perf/replication_perf.py [--records 200000] [--rounds 2] [--catchup-gb 1] \
        [--shutdown-partitions 100,1000] [--session-timeout-ms 6000]

Theory of operation: one cluster (hpbroker.testing.cluster, in-process brokers by default) serves
every measurement, in this order:

- throughput: --records x 1 KB records, confluent-kafka (perf/produce_perf.py), to a topic of
  factor 1 and to one of factor 3 with min.insync.replicas 2, each at acks=1 and acks=all; the
  four workloads alternate, their order flipped every round, figures are medians of the rounds.
  CPU-s per GB of each broker's process tree (perf/_common.py), split into the leader's and the
  followers' (one partition: one leader, two followers).
- latency: perf/e2e_latency.py at --rate records/s of 1 KB, acks=all, factor 3 and (the same-run
  baseline) factor 1, alternating: p50/p99 medians of --latency-rounds.
- Every throughput and latency run also records how long each broker's event loop was runnable
  but waiting for a CPU (``run_queue_wait``): on a shared machine, the part of a replication
  round trip that is queueing for a core rather than the brokers' work.
- catch-up: a follower of a factor-3 partition stopped (SIGTERM), --catchup-gb produced at acks=1
  to the two others, the follower started under a light produce load (--light-rate records/s);
  the time from its start until ZooKeeper shows it in the ISR again.
- failover: SIGKILL of a broker (not the controller) leading a third of a factor-3 topic's
  partitions under a produce load; the time until every broker left shows every partition it led
  led elsewhere (its ZooKeeper session has to expire first: the session timeout), and until each
  of those partitions acknowledged a record sent after the kill (produce resumed).
- controlled shutdown: topics of 100 partitions, factor 3, at each --shutdown-partitions count;
  SIGTERM of a broker that is not the controller, the time until both other brokers' Metadata
  show none of its leaderships left (its last leadership moved), and until its process exited.

Needs java and Debian's zookeeper jar (hpbroker.testing.zookeeper). Figures in
../docs/performance.md ("Replication").
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common  # noqa: E402
import cluster_perf  # noqa: E402
import e2e_latency  # noqa: E402
import produce_perf  # noqa: E402

from hpbroker.cluster import zk_data as zd  # noqa: E402
from hpbroker.testing import wait_until  # noqa: E402
from hpbroker.testing.cluster import running_cluster  # noqa: E402
from hpbroker.testing.zookeeper import ZooKeeperServer  # noqa: E402

RECORD = 1000
TOPIC_PARTITIONS = 100


def create(bootstrap: str, name: str, partitions: int, factor: int, min_isr: int = 1) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(name, partitions, factor, config={"min.insync.replicas": str(min_isr)})
    for f in admin.create_topics([topic], operation_timeout=60).values():
        f.result(120)


def states(zk, topic: str, partitions: int) -> dict[int, zd.LeaderAndIsr]:
    tps = [zd.TopicPartition(topic, p) for p in range(partitions)]
    return {tp.partition: s.leader_and_isr for tp, s in zk.get_partition_states(tps).items()}


def wait_isr(zk, topic: str, partitions: int, isr: set[int], timeout: float) -> None:
    wait_until(
        lambda: (s := states(zk, topic, partitions)) and all(set(x.isr) == isr for x in s.values()),
        timeout,
        f"the ISR of {topic} to be {sorted(isr)}",
        interval=0.02,
    )


class Trickle:
    """A producer thread sending ``rate`` records/s round-robin over ``partitions``; ``acked`` gets
    (partition, time produced, time acknowledged), wall clock."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, rate: float, acks: str):
        self.bootstrap, self.topic, self.partitions, self.rate, self.acks = bootstrap, topic, partitions, rate, acks
        self.acked: list[tuple[int, float, float]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Trickle:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        from confluent_kafka import Producer

        p = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "acks": self.acks,
                "linger.ms": 0,
                "retry.backoff.ms": 20,
                "message.timeout.ms": 60000,
                "topic.metadata.refresh.interval.ms": 1000,
            }
        )
        pad = b"\0" * (RECORD - 8)

        def report(err, msg, sent):
            if err is None:
                self.acked.append((msg.partition(), sent, time.time()))
            else:
                self.errors += 1

        start, i = time.monotonic(), 0
        while not self._stop.is_set():
            sent = time.time()
            p.produce(self.topic, pad, partition=i % self.partitions, on_delivery=lambda e, m, s=sent: report(e, m, s))
            i += 1
            p.poll(max(0.0, start + i / self.rate - time.monotonic()))
        p.flush(60)


# --- throughput, CPU per GB ----------------------------------------------------------------


def run_queue_wait(pid: int) -> float:
    """Seconds the process's main thread (the in-process broker's event loop) has spent runnable
    but waiting for a CPU (/proc/<pid>/task/<pid>/schedstat, second field): on a machine with
    more runnable processes than cores, the time each hop of a replication round trip queues."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def produce_run(cluster, topic: str, acks: str, records: int, leader: int, say) -> dict:
    pids = {i: b.pid for i, b in cluster.brokers.items()}
    before = {i: _common.tree_cpu_sample(pid) for i, pid in pids.items()}
    waited = {i: run_queue_wait(pid) for i, pid in pids.items()}
    args = {
        "bootstrap": cluster.bootstrap,
        "topic": topic,
        "records": records,
        "record_size": RECORD,
        "acks": acks,
        "batch_size": 1_000_000,
        "linger_ms": 5,
        "compression": "none",
        "partitions": 1,
        "idempotence": False,
        "producers": 1,
        "flush_timeout": 300,
        "client_config": {},
        "quiet": True,
    }
    result = produce_perf.run(args)
    after = {i: _common.tree_cpu_sample(pid) for i, pid in pids.items()}
    waited = {i: run_queue_wait(pids[i]) - w for i, w in waited.items()}
    gb = result["bytes"] / 1e9
    cpu = {i: _common.cpu_seconds_between(before[i], after[i]) / gb for i in pids}
    out = {
        "mb_per_s": result["mb_per_s"],
        "errors": result["errors"] + result["undelivered"],
        "cpu_s_per_gb": {str(i): round(c, 3) for i, c in cpu.items()},
        "leader_cpu_s_per_gb": round(cpu[leader], 3),
        "follower_cpu_s_per_gb": round(statistics.mean(c for i, c in cpu.items() if i != leader), 3),
        "all_brokers_cpu_s_per_gb": round(sum(cpu.values()), 3),
        "seconds": result["seconds"],
        "cpu_s": {str(i): round(c * gb, 3) for i, c in cpu.items()},
        "run_queue_wait_s": {str(i): round(w, 3) for i, w in waited.items()},
        "delivery_latency_ms": result["latency_ms"],
    }
    say(f"  {topic} acks={acks}: {out}")
    return out


def throughput(cluster, zk, records: int, rounds: int, say) -> dict:
    workloads = [(f, a) for f in (1, 3) for a in ("1", "all")]
    runs: dict[str, list[dict]] = {f"rf{f}-acks{a}": [] for f, a in workloads}
    for r in range(rounds):
        order = workloads if r % 2 == 0 else workloads[::-1]
        say(f"throughput, round {r + 1}")
        for factor, acks in order:
            name = f"repl-rf{factor}-acks{acks}-{r}"
            create(cluster.bootstrap, name, 1, factor, min_isr=2 if factor == 3 else 1)
            wait_isr(zk, name, 1, set(cluster.brokers) if factor == 3 else {states(zk, name, 1)[0].leader}, 60)
            leader = states(zk, name, 1)[0].leader
            runs[f"rf{factor}-acks{acks}"].append(produce_run(cluster, name, acks, records, leader, say))
            delete(cluster.bootstrap, name)
    medians = {
        k: {m: statistics.median(x[m] for x in v) for m in ("mb_per_s", "leader_cpu_s_per_gb", "follower_cpu_s_per_gb")}
        for k, v in runs.items()
    }
    ratios = {
        "acks1_rf3_over_rf1": medians["rf3-acks1"]["mb_per_s"] / medians["rf1-acks1"]["mb_per_s"],
        "acksall_rf3_over_rf1": medians["rf3-acksall"]["mb_per_s"] / medians["rf1-acksall"]["mb_per_s"],
        "per_round_acksall_rf3_over_rf1": [
            a["mb_per_s"] / b["mb_per_s"] for a, b in zip(runs["rf3-acksall"], runs["rf1-acksall"], strict=True)
        ],
    }
    return {"runs": runs, "medians": medians, "ratios": ratios}


def delete(bootstrap: str, name: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the futures resolve
    for f in admin.delete_topics([name], operation_timeout=60).values():
        f.result(120)


# --- latency -------------------------------------------------------------------------------


def latency(cluster, zk, rate: float, duration: float, rounds: int, say) -> dict:
    """e2e latency at factor 3 (acks=all, min.insync.replicas 2) and, the same-run baseline, at
    factor 1, alternating; with how long each broker's event loop waited for a CPU meanwhile."""
    runs: dict[str, list[dict]] = {"rf1": [], "rf3": []}
    for r in range(rounds):
        for factor in (3, 1) if r % 2 == 0 else (1, 3):
            name = _common.unique_topic(f"repl-e2e-rf{factor}")
            create(cluster.bootstrap, name, 1, factor, min_isr=2 if factor == 3 else 1)
            wait_isr(zk, name, 1, set(cluster.brokers) if factor == 3 else {states(zk, name, 1)[0].leader}, 60)
            pids = {i: b.pid for i, b in cluster.brokers.items()}
            waited = {i: run_queue_wait(pid) for i, pid in pids.items()}
            t0 = time.monotonic()
            args = {
                "bootstrap": cluster.bootstrap,
                "topic": name,
                "partitions": 1,
                "rate": rate,
                "duration": duration,
                "warmup": 1,
                "record_size": RECORD,
                "acks": "all",
                "linger_ms": 0,
                "idle_timeout": 10,
                "client_config": {},
                "quiet": True,
            }
            e = e2e_latency.run(args)
            elapsed = time.monotonic() - t0
            out = {
                "rate": e["achieved_rate"],
                "lost": e["lost"],
                "errors": e["errors"],
                "latency_ms": e["latency_ms"],
                "run_queue_wait_per_s": {
                    str(i): round((run_queue_wait(pid) - waited[i]) / elapsed, 3) for i, pid in pids.items()
                },
            }
            say(f"  e2e factor {factor}: {out}")
            runs[f"rf{factor}"].append(out)
            delete(cluster.bootstrap, name)
    medians = {
        k: {p: statistics.median(x["latency_ms"][p] for x in v) for p in ("p50", "p99")} for k, v in runs.items()
    }
    return {"runs": runs, "medians": medians}


# --- follower catch-up ---------------------------------------------------------------------


def catch_up(cluster, zk, gb: float, light_rate: float, say) -> dict:
    name = _common.unique_topic("repl-catchup")
    create(cluster.bootstrap, name, 1, 3, min_isr=2)
    wait_isr(zk, name, 1, set(cluster.brokers), 60)
    leader = states(zk, name, 1)[0].leader
    controller = zk.get_controller_id()
    follower = next(i for i in cluster.brokers if i not in (leader, controller))
    cluster.brokers[follower].stop()
    wait_isr(zk, name, 1, set(cluster.brokers) - {follower}, cluster.session_timeout_ms / 1000 + 60)
    records = int(gb * 1e9 / RECORD)
    say(f"catch-up: broker {follower} stopped, producing {records} records")
    produced = produce_perf.run(
        {
            "bootstrap": cluster.bootstrap,
            "topic": name,
            "records": records,
            "record_size": RECORD,
            "acks": "1",
            "batch_size": 1_000_000,
            "linger_ms": 5,
            "compression": "none",
            "partitions": 1,
            "idempotence": False,
            "producers": 1,
            "flush_timeout": 600,
            "client_config": {},
            "quiet": True,
        }
    )
    with Trickle(cluster.bootstrap, name, 1, light_rate, "1") as load:
        t0 = time.monotonic()
        cluster.brokers[follower].start()
        t_started = time.monotonic() - t0
        wait_isr(zk, name, 1, set(cluster.brokers), 1800)
        t_isr = time.monotonic() - t0
    out = {
        "gb": produced["bytes"] / 1e9,
        "produced_mb_per_s": produced["mb_per_s"],
        "follower_started_s": t_started,
        "in_isr_s": t_isr,
        "catch_up_mb_per_s": produced["bytes"] / 1e6 / t_isr,
        "light_load_acked": len(load.acked),
    }
    say(f"  catch-up: {out}")
    delete(cluster.bootstrap, name)
    return out


# --- failover after SIGKILL ----------------------------------------------------------------


def failover(cluster, zk, partitions: int, rate: float, say) -> dict:
    name = _common.unique_topic("repl-failover")
    create(cluster.bootstrap, name, partitions, 3, min_isr=2)
    wait_isr(zk, name, partitions, set(cluster.brokers), 60)
    controller = zk.get_controller_id()
    before = states(zk, name, partitions)
    victim = next(i for i in cluster.brokers if i != controller and any(s.leader == i for s in before.values()))
    led = {p for p, s in before.items() if s.leader == victim}
    survivors = [b for i, b in cluster.brokers.items() if i != victim]
    with Trickle(cluster.bootstrap, name, partitions, rate, "all") as load:
        wait_until(lambda: len(load.acked) >= rate, 30, "the load to run")
        t0_wall, t0 = time.time(), time.monotonic()
        os.killpg(cluster.brokers[victim].pid, signal.SIGKILL)

        def moved():
            for b in survivors:
                seen = cluster_perf.leaders(b.bootstrap, [name])
                if any(seen[(name, p)][1] in (victim, -1) for p in led):
                    return False
            return True

        wait_until(moved, 120, "every leadership of the killed broker moved", interval=0.02)
        t_moved = time.monotonic() - t0

        def resumed():
            done = {p for p, sent, _ in load.acked if sent > t0_wall}
            return led <= done

        wait_until(resumed, 120, "produce to resume on every partition it led", interval=0.02)
        firsts = {}
        for p, sent, acked in load.acked:
            if sent > t0_wall and p in led:
                firsts[p] = min(firsts.get(p, acked), acked)
        t_resumed = max(firsts.values()) - t0_wall
    cluster.brokers[victim].kill()
    cluster.brokers[victim].start()
    wait_isr(zk, name, partitions, set(cluster.brokers), 120)
    out = {
        "partitions": partitions,
        "led_by_killed": len(led),
        "session_timeout_s": cluster.session_timeout_ms / 1000,
        "leaders_moved_s": t_moved,
        "produce_resumed_s": t_resumed,
        "errors": load.errors,
    }
    say(f"  failover: {out}")
    delete(cluster.bootstrap, name)
    return out


# --- controlled shutdown -------------------------------------------------------------------


def controlled_shutdown(cluster, zk, partitions: int, say) -> dict:
    topics = [
        _common.unique_topic(f"repl-cs{i}") for i in range((partitions + TOPIC_PARTITIONS - 1) // TOPIC_PARTITIONS)
    ]
    for t in topics:
        create(cluster.bootstrap, t, TOPIC_PARTITIONS, 3, min_isr=2)
    for t in topics:
        wait_isr(zk, t, TOPIC_PARTITIONS, set(cluster.brokers), 300)
    wait_until(lambda: cluster_perf.all_led(cluster, topics, len(topics) * TOPIC_PARTITIONS), 300, "every leader")
    controller = zk.get_controller_id()
    target_id = next(i for i in cluster.brokers if i != controller)
    target = cluster.brokers[target_id]
    others = [b for i, b in cluster.brokers.items() if i != target_id]
    led = {tp for tp, (_, leader) in cluster_perf.leaders(others[0].bootstrap, topics).items() if leader == target_id}
    t0 = time.monotonic()
    os.kill(target.pid, signal.SIGTERM)
    seen_at: dict[str, float] = {}
    exited_at = None
    deadline = t0 + 300
    while len(seen_at) < len(others) or exited_at is None:
        if time.monotonic() > deadline:
            raise AssertionError("the controlled shutdown did not finish in 300 s")
        if exited_at is None and not target.running:
            exited_at = time.monotonic() - t0
        for b in others:
            if b.bootstrap not in seen_at:
                now = cluster_perf.leaders(b.bootstrap, topics)
                if all(now[tp][1] not in (target_id, -1) for tp in led):
                    seen_at[b.bootstrap] = time.monotonic() - t0
        time.sleep(0.01)
    target.stop()
    target.start()
    for t in topics:
        wait_isr(zk, t, TOPIC_PARTITIONS, set(cluster.brokers), 600)
    out = {
        "partitions": len(topics) * TOPIC_PARTITIONS,
        "led_by_target": len(led),
        "last_leadership_moved_s": max(seen_at.values()),
        "first_broker_saw_it_s": min(seen_at.values()),
        "process_exited_s": exited_at,
    }
    say(f"  controlled shutdown: {out}")
    for t in topics:
        delete(cluster.bootstrap, t)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=200_000, help="1 KB records per throughput run")
    p.add_argument("--rounds", type=int, default=2, help="throughput rounds (medians)")
    p.add_argument("--rate", type=float, default=2000, help="e2e records/s")
    p.add_argument("--duration", type=float, default=10, help="e2e measured seconds")
    p.add_argument("--latency-rounds", type=int, default=2, help="e2e rounds per factor (medians)")
    p.add_argument("--catchup-gb", type=float, default=1.0)
    p.add_argument("--light-rate", type=float, default=200, help="records/s while the follower catches up")
    p.add_argument("--failover-partitions", type=int, default=30)
    p.add_argument("--shutdown-partitions", type=_common.csv_list(int), default=[100, 1000])
    p.add_argument("--session-timeout-ms", type=int, default=6000)
    p.add_argument("--lag-ms", type=int, default=10000, help="replica.lag.time.max.ms")
    p.add_argument("--processors", type=int, default=1)
    p.add_argument("--handlers", type=int, default=0)
    p.add_argument(
        "--only", type=_common.csv_list(str), default=None, help="throughput,latency,catchup,failover,shutdown"
    )
    p.add_argument("--json-out", type=Path, default=None)
    p.add_argument("--quiet", action="store_true")
    ns = p.parse_args()
    say = (lambda s: None) if ns.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    only = set(ns.only or ["throughput", "latency", "catchup", "failover", "shutdown"])
    args = ["--processors", str(ns.processors), "--handlers", str(ns.handlers)]
    config = {"replica.lag.time.max.ms": ns.lag_ms, "offsets.topic.num.partitions": 5}
    out: dict = {}
    with (
        ZooKeeperServer() as zookeeper,
        running_cluster(
            3,
            zookeeper=zookeeper,
            config=config,
            session_timeout_ms=ns.session_timeout_ms,
            args=args,
            startup_timeout=120,
        ) as cluster,
        cluster.zk_client() as zk,
    ):
        wait_until(lambda: zk.get_controller_id() in cluster.brokers, 60, "a controller")
        if "throughput" in only:
            out["throughput"] = throughput(cluster, zk, ns.records, ns.rounds, say)
        if "latency" in only:
            out["latency"] = latency(cluster, zk, ns.rate, ns.duration, ns.latency_rounds, say)
        if "catchup" in only:
            out["catch_up"] = catch_up(cluster, zk, ns.catchup_gb, ns.light_rate, say)
        if "failover" in only:
            out["failover"] = failover(cluster, zk, ns.failover_partitions, 200, say)
        if "shutdown" in only:
            out["controlled_shutdown"] = [controlled_shutdown(cluster, zk, n, say) for n in ns.shutdown_partitions]
    result = {
        "script": "replication_perf",
        "machine": _common.machine(),
        "command": sys.argv,
        "session_timeout_ms": ns.session_timeout_ms,
        "replica_lag_time_max_ms": ns.lag_ms,
        "topology": args,
        **out,
    }
    path = _common.write_json(result, ns.json_out, "replication_perf")
    if "throughput" in out:
        m, r = out["throughput"]["medians"], out["throughput"]["ratios"]
        for k, v in m.items():
            print(
                f"{k}: {v['mb_per_s']:.0f} MB/s, leader {v['leader_cpu_s_per_gb']:.2f} CPU-s/GB, "
                f"each follower {v['follower_cpu_s_per_gb']:.2f}"
            )
        print(f"factor 3 / factor 1: acks=1 {r['acks1_rf3_over_rf1']:.2f}x, acks=all {r['acksall_rf3_over_rf1']:.2f}x")
    if "latency" in out:
        m = out["latency"]["medians"]
        print(
            f"e2e at {ns.rate:.0f} records/s, acks=all: factor 3 p50 {m['rf3']['p50']} ms, p99 {m['rf3']['p99']} ms; "
            f"factor 1 p50 {m['rf1']['p50']} ms, p99 {m['rf1']['p99']} ms"
        )
    if "catch_up" in out:
        c = out["catch_up"]
        print(
            f"catch-up of {c['gb']:.2f} GB: in the ISR {c['in_isr_s']:.2f} s after start ({c['catch_up_mb_per_s']:.0f} MB/s)"
        )
    if "failover" in out:
        f = out["failover"]
        print(
            f"SIGKILL of a leader of {f['led_by_killed']} partitions: led elsewhere after {f['leaders_moved_s']:.2f} s, "
            f"produce resumed {f['produce_resumed_s']:.2f} s (session timeout {f['session_timeout_s']:g} s)"
        )
    for c in out.get("controlled_shutdown", []):
        print(
            f"controlled shutdown, {c['partitions']} partitions ({c['led_by_target']} led): last leadership moved "
            f"{c['last_leadership_moved_s']:.2f} s, process exited {c['process_exited_s']:.2f} s"
        )
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
