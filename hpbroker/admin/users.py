"""``hpbroker users``: SCRAM users, as ``kafka-configs.sh --entity-type users`` with
``--add-config 'SCRAM-SHA-256=[password=...]'`` manages them: a single node's in the credential
file under its log directory (``--data-dir``, the broker's log.dirs), a cluster's in ZooKeeper
(``--zookeeper``, /config/users/<user> and a change notification, as Kafka); a running broker
picks a change up within a second. Passwords are never stored, only salted credentials.

    hpbroker users set alice --password alice-secret [--mechanism SCRAM-SHA-512] [--iterations 8192] --data-dir ./data
    hpbroker users delete alice [--mechanism SCRAM-SHA-256] --data-dir ./data
    hpbroker users list --data-dir ./data
    hpbroker users set broker --password broker-secret --zookeeper zk1:2181/kafka
"""

from __future__ import annotations

import argparse
import os
import sys

from hpbroker.admin import zk_target
from hpbroker.cluster.zk_session import ZkUnavailableError
from hpbroker.security.credentials import FileCredentialStore
from hpbroker.security.scram import MAX_ITERATIONS, MECHANISMS, MIN_ITERATIONS, make_credential
from hpbroker.security.zk_stores import ZkCredentialStore


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpbroker users", description="SCRAM users of a broker's log directory.")
    sub = p.add_subparsers(dest="users_command", required=True)
    sp = sub.add_parser("set", help="create a user, or change its password")
    sp.add_argument("user")
    sp.add_argument("--password", required=True)
    sp.add_argument(
        "--mechanism", action="append", choices=sorted(MECHANISMS), help="default: both SCRAM-SHA-256 and -512"
    )
    sp.add_argument("--iterations", type=int, default=MIN_ITERATIONS)
    dp = sub.add_parser("delete", help="remove a user's credentials")
    dp.add_argument("user")
    dp.add_argument("--mechanism", action="append", choices=sorted(MECHANISMS), help="default: every one")
    lp = sub.add_parser("list", help="every user and its mechanisms (no secrets)")
    for x in (sp, dp, lp):
        zk_target.add_arguments(x)
    return p


def main(args: argparse.Namespace) -> int:
    if args.zookeeper:
        try:
            with zk_target.zookeeper(args.zookeeper) as zk:
                return _run(args, ZkCredentialStore(zk))
        except ZkUnavailableError as exc:
            print(f"hpbroker users: cannot reach ZooKeeper at {args.zookeeper}: {exc}", file=sys.stderr)
            return 1
    if args.users_command == "set":
        os.makedirs(args.data_dir, exist_ok=True)  # before the broker's first start, as kafka-configs before Kafka's
    if not os.path.isdir(args.data_dir):
        print(f"hpbroker users: {args.data_dir} is not a directory", file=sys.stderr)
        return 2
    return _run(args, FileCredentialStore(args.data_dir))


def _run(args: argparse.Namespace, store) -> int:
    if args.users_command == "set":
        if not MIN_ITERATIONS <= args.iterations <= MAX_ITERATIONS:
            print(f"hpbroker users: iterations must be {MIN_ITERATIONS} to {MAX_ITERATIONS}", file=sys.stderr)
            return 2
        mechanisms = args.mechanism or sorted(MECHANISMS)
        store.alter({(args.user, m): make_credential(m, args.password, args.iterations) for m in mechanisms}, [])
        print(f"{args.user}: {', '.join(mechanisms)} set")
    elif args.users_command == "delete":
        known = store.users().get(args.user, {})
        if not known:
            print(f"hpbroker users: no user {args.user}", file=sys.stderr)
            return 1
        store.alter({}, [(args.user, m) for m in (args.mechanism or list(known))])
        print(f"{args.user}: deleted")
    else:
        for user, mechs in sorted(store.users().items()):
            print(f"{user}\t" + ", ".join(f"{m} (iterations {c.iterations})" for m, c in sorted(mechs.items())))
    return 0
