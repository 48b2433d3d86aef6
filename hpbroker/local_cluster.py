"""``hpbroker cluster``: a local cluster to try: one ZooKeeper (the Debian ``zookeeper`` package's
jar, run by java) and three brokers on this machine, until ^C.

    hpbroker cluster                      # ZooKeeper on 127.0.0.1:2181, brokers on 9092-9094
    hpbroker cluster --brokers 5 --port 19092 --data-dir /tmp/try

Everything lives under ``--data-dir`` (default ./cluster-data): ``zookeeper/`` (its data and
log), ``broker-N/`` (each broker's log.dirs) and ``broker-N.log`` (each broker's log), kept from
one run to the next, so a second run finds its topics again. The brokers register under the
chroot /hpbroker. ^C (or SIGTERM) stops the brokers one by one (each a controlled shutdown), then
ZooKeeper.

A real cluster is one ZooKeeper ensemble and a properties file per broker (docs/operations.md,
"Running a cluster"); this command is for a first look, on one machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

SESSION_TIMEOUT_MS = 6000


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpbroker cluster", description="A local cluster of brokers on ZooKeeper.")
    p.add_argument("--brokers", type=int, default=3, help="how many brokers (ids 1..N; default 3)")
    p.add_argument("--port", type=int, default=9092, help="the first broker's port; the others follow (default 9092)")
    p.add_argument("--zookeeper-port", type=int, default=2181, help="ZooKeeper's client port (default 2181)")
    p.add_argument("--data-dir", default="./cluster-data", help="where everything is kept (default ./cluster-data)")
    p.add_argument("--processors", type=int, default=1, help="processors per broker (default 1)")
    p.add_argument("--handlers", type=int, default=0, help="handlers per broker (default 0: in-process brokers)")
    return p


def main(args: argparse.Namespace) -> int:
    from hpbroker.testing.cluster import running_cluster
    from hpbroker.testing.zookeeper import ZooKeeperServer, zookeeper_unavailable

    reason = zookeeper_unavailable()
    if reason:
        print(f"hpbroker cluster: no ZooKeeper to run: {reason}", file=sys.stderr)
        return 2
    base = os.path.abspath(args.data_dir)
    os.makedirs(base, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ports = [args.port + i for i in range(args.brokers)]
    zookeeper = ZooKeeperServer(port=args.zookeeper_port, data_dir=os.path.join(base, "zookeeper"))
    print(f"starting ZooKeeper on {zookeeper.connect} ...", flush=True)
    with zookeeper:
        with running_cluster(
            args.brokers,
            zookeeper=zookeeper,
            base_dir=base,
            ports=ports,
            chroot="/hpbroker",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            args=["--processors", str(args.processors), "--handlers", str(args.handlers)],
            startup_timeout=120.0,
        ) as cluster:
            print(f"zookeeper.connect={cluster.zookeeper_connect}")
            for b in cluster.brokers.values():
                print(f"broker {b.broker_id}: {b.bootstrap}  (log: {b.log_file})")
            print(f"bootstrap.servers={cluster.bootstrap}")
            print("^C stops the cluster", flush=True)
            while not stop.wait(1.0):
                for b in cluster.brokers.values():
                    if not b.running:
                        print(f"broker {b.broker_id} exited; see {b.log_file}", file=sys.stderr)
                        stop.set()
            print("stopping the brokers (a controlled shutdown each), then ZooKeeper ...", flush=True)
    return 0
