"""A cluster of three hpbroker brokers on ZooKeeper: how long leadership takes to settle after a
controller is killed and after a controlled shutdown, and what Metadata costs per partition
against a single node.

    python perf/cluster_perf.py [--partitions 100,1000] [--rounds 3] [--session-timeout-ms 6000]

For each partition count (topics of up to 100 partitions, factor 1, spread over brokers 1-3):

- controller failover: SIGKILL of the controller's process group, then the time until another
  broker is the controller in ZooKeeper (``new controller``), until that broker logged its
  failover done (``failover done``: context read from ZooKeeper, UpdateMetadata and LeaderAndIsr
  sent for every partition on the live brokers, the dead broker's partitions marked offline), and
  until both surviving brokers' Metadata agree on it (``metadata settled``); then the killed broker
  is started again and timed until every partition is led (``re-led after restart``).
- controlled shutdown: SIGTERM of a broker that is not the controller, the time until its
  ControlledShutdown was answered (its log), until its registration is gone, and until the other
  brokers' Metadata show its partitions offline; with factor 1 no leadership can move, so this is
  the cost of the round trip and of the controller's reaction; then the time its partitions take
  to be led again after a restart.
- Metadata cost: one raw Metadata v8 for every topic, repeated, against a broker of the cluster
  and against a single node holding the same topics: microseconds per request and per partition.

Needs java and Debian's zookeeper jar (hpbroker.testing.zookeeper). Figures in
../docs/performance.md ("Clusters").
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common  # noqa: E402

from hpbroker import protocol  # noqa: E402
from hpbroker.admin.client import recv_frame  # noqa: E402
from hpbroker.testing import running_broker, wait_until  # noqa: E402
from hpbroker.testing.cluster import running_cluster  # noqa: E402
from hpbroker.testing.zookeeper import ZooKeeperServer  # noqa: E402

METADATA = 3
TOPIC_PARTITIONS = 100
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


class Raw:
    def __init__(self, bootstrap: str):
        import socket

        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.cid = 0

    def request(self, api_key: int, version: int, body: dict) -> dict:
        self.cid += 1
        self.sock.sendall(protocol.encode_request(api_key, version, self.cid, "cluster-perf", body))
        frame = recv_frame(self.sock)
        _, offset = protocol.decode_response_header(api_key, version, frame, 0)
        return protocol.decode_response(api_key, version, frame, offset)

    def close(self):
        self.sock.close()


_ALL = {
    "topics": None,
    "allow_auto_topic_creation": False,
    "include_cluster_authorized_operations": False,
    "include_topic_authorized_operations": False,
}


def metadata(bootstrap: str) -> dict:
    c = Raw(bootstrap)
    try:
        return c.request(METADATA, 8, _ALL)
    finally:
        c.close()


def leaders(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], tuple[int, int]]:
    """(topic, partition) -> (error code, leader) in one broker's Metadata."""
    out = {}
    for t in metadata(bootstrap)["topics"]:
        if t["name"] in topics:
            for p in t["partitions"]:
                out[(t["name"], p["partition_index"])] = (p["error_code"], p["leader_id"])
    return out


def create_topics(bootstrap: str, topics: list[str]) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, TOPIC_PARTITIONS, 1) for t in topics]).values():
        f.result(120)


def stamp_of(lines: list[str], text: str, after: float = 0.0) -> float | None:
    """The wall-clock time of the first log line containing ``text`` logged at or after ``after``."""
    for line in list(lines):
        if text in line:
            m = _STAMP.match(line)
            if m:
                stamp = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                if stamp >= after - 0.001:
                    return stamp
    return None


def all_led(cluster, topics, partitions: int) -> bool:
    live = {i for i, b in cluster.brokers.items() if b.running}
    for b in cluster.brokers.values():
        if not b.running:
            continue
        seen = leaders(b.bootstrap, topics)
        if len(seen) != partitions or any(code or leader not in live for code, leader in seen.values()):
            return False
    return True


def failover(cluster, zk, topics: list[str], partitions: int, say) -> dict:
    controller = zk.get_controller_id()
    victim = cluster.brokers[controller]
    survivors = [b for i, b in cluster.brokers.items() if i != controller]
    before = leaders(survivors[0].bootstrap, topics)
    offline = {tp for tp, (_, leader) in before.items() if leader == controller}
    t0_wall, t0 = time.time(), time.monotonic()
    os.killpg(victim.pid, signal.SIGKILL)
    new = wait_until(
        lambda: (c := zk.get_controller_id()) not in (None, controller) and c, 60, "a new controller", interval=0.01
    )
    t_new = time.monotonic() - t0

    def settled():
        for b in survivors:
            md = metadata(b.bootstrap)
            if md["controller_id"] != new:
                return False
            seen = {
                (t["name"], p["partition_index"]): (p["error_code"], p["leader_id"])
                for t in md["topics"]
                if t["name"] in topics
                for p in t["partitions"]
            }
            if any(seen.get(tp, (None, None))[1] != -1 for tp in offline):
                return False
        return True

    wait_until(settled, 120, "the survivors' metadata to settle", interval=0.02)
    t_settled = time.monotonic() - t0
    new_broker = cluster.brokers[new]
    ready = f"controller {new} ready"
    wait_until(lambda: stamp_of(new_broker.log, ready, t0_wall) is not None, 30, "the failover log line")
    t_ready = stamp_of(new_broker.log, ready, t0_wall) - t0_wall
    victim.stop()
    t1 = time.monotonic()
    victim.start()
    wait_until(lambda: all_led(cluster, topics, partitions), 120, "every partition led again", interval=0.02)
    t_back = time.monotonic() - t1
    say(f"  failover: new controller {t_new:.2f} s, failover done {t_ready:.2f} s, metadata settled {t_settled:.2f} s")
    return {
        "new_controller_s": t_new,
        "failover_done_s": t_ready,
        "metadata_settled_s": t_settled,
        "offline_partitions": len(offline),
        "re_led_after_restart_s": t_back,
    }


def controlled_shutdown(cluster, zk, topics: list[str], partitions: int, say) -> dict:
    controller = zk.get_controller_id()
    target_id = next(i for i in cluster.brokers if i != controller)
    target = cluster.brokers[target_id]
    others = [b for i, b in cluster.brokers.items() if i != target_id]
    before = leaders(others[0].bootstrap, topics)
    moved = {tp for tp, (_, leader) in before.items() if leader == target_id}
    lines = target.log
    t0_wall, t0 = time.time(), time.monotonic()
    os.kill(target.pid, signal.SIGTERM)
    wait_until(lambda: target_id not in zk.get_sorted_broker_list(), 120, "the registration to go", interval=0.01)
    t_gone = time.monotonic() - t0

    def offline_seen():
        return all(all(leaders(b.bootstrap, topics).get(tp, (0, 0))[1] == -1 for tp in moved) for b in others)

    wait_until(offline_seen, 120, "the others' metadata", interval=0.02)
    t_seen = time.monotonic() - t0
    answered = stamp_of(lines, f"controlled shutdown of broker {target_id} succeeded", t0_wall)
    target.stop()
    t1 = time.monotonic()
    target.start()
    wait_until(lambda: all_led(cluster, topics, partitions), 120, "every partition led again", interval=0.02)
    t_back = time.monotonic() - t1
    result = {
        "controlled_shutdown_answered_s": None if answered is None else answered - t0_wall,
        "registration_gone_s": t_gone,
        "partitions_offline_seen_s": t_seen,
        "partitions_of_broker": len(moved),
        "re_led_after_restart_s": t_back,
    }
    say(f"  controlled shutdown: {result}")
    return result


def metadata_cost(bootstrap: str, requests: int) -> float:
    """Mean seconds per Metadata v8 request for every topic."""
    c = Raw(bootstrap)
    try:
        for _ in range(20):
            c.request(METADATA, 8, _ALL)
        t0 = time.perf_counter()
        for _ in range(requests):
            c.request(METADATA, 8, _ALL)
        return (time.perf_counter() - t0) / requests
    finally:
        c.close()


def measure(partitions: int, rounds: int, session_timeout_ms: int, args: list[str], say) -> dict:
    topics = [f"perf-{i}" for i in range((partitions + TOPIC_PARTITIONS - 1) // TOPIC_PARTITIONS)]
    partitions = len(topics) * TOPIC_PARTITIONS
    out: dict = {"partitions": partitions, "failover": [], "controlled_shutdown": []}
    with (
        ZooKeeperServer() as zookeeper,
        running_cluster(
            3, zookeeper=zookeeper, session_timeout_ms=session_timeout_ms, args=args, startup_timeout=120
        ) as cluster,
    ):
        create_topics(cluster.bootstrap, topics)
        wait_until(lambda: all_led(cluster, topics, partitions), 120, "every partition led")
        with cluster.zk_client() as zk:
            for r in range(rounds):
                say(f"{partitions} partitions, round {r + 1}")
                out["failover"].append(failover(cluster, zk, topics, partitions, say))
                out["controlled_shutdown"].append(controlled_shutdown(cluster, zk, topics, partitions, say))
        cluster_cost = metadata_cost(next(iter(cluster.brokers.values())).bootstrap, 200)
    with running_broker(subprocess=True, args=args, startup_timeout=120) as single:
        create_topics(single.bootstrap, topics)
        single_cost = metadata_cost(single.bootstrap, 200)
    out["metadata_us_per_request"] = {"cluster": cluster_cost * 1e6, "single_node": single_cost * 1e6}
    out["metadata_us_per_partition"] = {
        "cluster": cluster_cost * 1e6 / partitions,
        "single_node": single_cost * 1e6 / partitions,
    }
    for key in ("failover", "controlled_shutdown"):
        runs = out[key]
        out[f"{key}_median"] = {k: statistics.median(r[k] for r in runs) for k in runs[0] if runs[0][k] is not None}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--partitions", type=_common.csv_list(int), default=[100, 1000])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--session-timeout-ms", type=int, default=6000)
    p.add_argument("--processors", type=int, default=1)
    p.add_argument("--handlers", type=int, default=0)
    p.add_argument("--json-out", type=Path, default=None)
    p.add_argument("--quiet", action="store_true")
    ns = p.parse_args()
    say = (lambda s: None) if ns.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    args = ["--processors", str(ns.processors), "--handlers", str(ns.handlers)]
    results = [measure(n, ns.rounds, ns.session_timeout_ms, args, say) for n in ns.partitions]
    result = {
        "script": "cluster_perf",
        "machine": _common.machine(),
        "command": sys.argv,
        "session_timeout_ms": ns.session_timeout_ms,
        "topology": args,
        "results": results,
    }
    path = _common.write_json(result, ns.json_out, "cluster_perf")
    for r in results:
        f, c = r["failover_median"], r["controlled_shutdown_median"]
        print(
            f"{r['partitions']} partitions: new controller {f['new_controller_s']:.2f} s, failover done "
            f"{f['failover_done_s']:.2f} s, metadata settled {f['metadata_settled_s']:.2f} s, re-led after restart "
            f"{f['re_led_after_restart_s']:.2f} s; controlled shutdown answered "
            f"{c.get('controlled_shutdown_answered_s', float('nan')):.2f} s, registration gone "
            f"{c['registration_gone_s']:.2f} s, offline seen {c['partitions_offline_seen_s']:.2f} s; Metadata "
            f"{r['metadata_us_per_request']['cluster']:.0f} us ({r['metadata_us_per_partition']['cluster']:.2f} "
            f"us/partition) vs single node {r['metadata_us_per_request']['single_node']:.0f} us "
            f"({r['metadata_us_per_partition']['single_node']:.2f} us/partition)"
        )
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
