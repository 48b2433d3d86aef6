"""Command line: ``hpbroker [--host H] [--port P] [--data-dir D] [--config server.properties]``.

Tools, for any Kafka-protocol cluster: ``hpbroker groups list|describe|delete-offsets ...
--bootstrap HOST:PORT`` (consumer groups; hpbroker/admin/groups.py), ``hpbroker topics
list|describe|create|alter|delete ...`` (topics; hpbroker/admin/topics.py) and ``hpbroker
log-dirs describe ...`` (partition sizes per log dir; hpbroker/admin/log_dirs.py), ``hpbroker users
set|delete|list --data-dir D|--zookeeper Z`` (SCRAM users; hpbroker/admin/users.py), ``hpbroker acls
add|list|remove --data-dir D|--zookeeper Z`` (ACLs, as kafka-acls.sh; hpbroker/admin/acls.py) and ``hpbroker
console --bootstrap HOST:PORT --port N`` (the web console of that cluster; hpbroker/console/).
``hpbroker cluster`` starts a local cluster to try: ZooKeeper and three brokers (hpbroker/local_cluster.py).

Precedence: defaults < the properties file (Kafka names: listeners, log.dirs, num.partitions,
...) < flags. SIGTERM/SIGINT stop the broker cleanly (logs closed with the clean-shutdown
marker), and a restart serves every acknowledged record again.

``--processors P --handlers H`` (Kafka: num.network.threads / num.io.threads) chooses the
process topology; neither given = one of each per core; ``--handlers 0`` = the in-process mode
(one process, what the test fixtures run).

``--event-loop asyncio|uvloop`` (or HPBROKER_EVENT_LOOP) picks the event loop of every process;
asyncio is the default, uvloop must be installed separately (server/eventloop.py, tuning.md).

``--scheduling adaptive|normal|batch`` (or HPBROKER_SCHEDULING) is the kernel's scheduling policy
of every process: batch (SCHED_BATCH: a woken broker never preempts a running task) saves CPU
and costs tail latency on busy cores; adaptive, the default, runs processors and handlers under
batch only while they move bytes in bulk (server/scheduling.py, tuning.md).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading

from hpbroker import __version__, environment
from hpbroker.config import BrokerConfig, ConfigError, read_properties
from hpbroker.server import eventloop, scheduling
from hpbroker.server.broker import BrokerServer, StartupRefused
from hpbroker.server.connection_quotas import ConnectionLimits
from hpbroker.server.listeners import replace_first_address


def build_config(args: argparse.Namespace) -> BrokerConfig:
    props = read_properties(args.config) if args.config else {}
    if args.host is not None or args.port is not None:
        # the first listener's address; its name and the other listeners stay as configured
        props["listeners"] = replace_first_address(
            props.get("listeners", "PLAINTEXT://127.0.0.1:9092"), args.host, args.port
        )
    if args.data_dir is not None:
        props["log.dirs"] = args.data_dir
    if args.processors is not None:
        props["num.network.threads"] = str(args.processors)
    if args.handlers is not None:
        props["num.io.threads"] = str(args.handlers)
    for kv in args.override or []:
        k, _, v = kv.partition("=")
        props[k.strip()] = v.strip()
    return BrokerConfig(props)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpbroker", description="A broker that speaks Kafka's wire protocol.")
    p.add_argument("--version", action="version", version=f"hpbroker {__version__}")
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="listen port (default 9092; 0 = any free port)")
    p.add_argument("--data-dir", default=None, help="log directory, Kafka's log.dirs (default ./data)")
    p.add_argument("--config", default=None, help="server.properties file with Kafka property names")
    p.add_argument(
        "--processors", type=int, default=None, help="network processor processes (default: the number of cores)"
    )
    p.add_argument(
        "--handlers",
        type=int,
        default=None,
        help="request handler processes (default: the number of cores; 0 = in-process mode)",
    )
    p.add_argument(
        "--event-loop",
        default=None,
        metavar="asyncio|uvloop",
        help="event loop of every broker process (default: $HPBROKER_EVENT_LOOP or asyncio; "
        "uvloop needs `pip install uvloop`)",
    )
    p.add_argument(
        "--scheduling",
        default=None,
        metavar="adaptive|normal|batch",
        help="kernel scheduling policy of the broker's processes (default: $HPBROKER_SCHEDULING or "
        "adaptive: batch while a process moves bytes in bulk, normal otherwise; batch: a woken "
        "broker process does not preempt a running task)",
    )
    p.add_argument("--override", action="append", metavar="NAME=VALUE", help="set any broker property")
    p.add_argument("--log-level", default=environment.value("HPBROKER_LOG_LEVEL"))
    return p


def topology_of(config: BrokerConfig) -> tuple[int, int]:
    """(processors, handlers). Neither given (flag or num.network.threads / num.io.threads
    property): one of each per core. handlers 0 = in-process mode."""
    given = "num.network.threads" in config.static or "num.io.threads" in config.static
    if not given:
        cores = os.cpu_count() or 1
        return cores, cores
    processors = config.get("num.network.threads") if "num.network.threads" in config.static else 1
    handlers = config.get("num.io.threads") if "num.io.threads" in config.static else 0
    return max(processors, 1), handlers


async def _run(config: BrokerConfig) -> int:
    server = BrokerServer(config)
    try:
        await server.start()
    except StartupRefused as exc:
        logging.getLogger("hpbroker").error("cannot start: %s", exc)
        return 1
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_stop)
    try:
        await server.serve_until_stopped()
    finally:
        await server.stop()
    return 0


def groups_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpbroker groups", description="Consumer groups of a Kafka-protocol cluster.")
    sub = p.add_subparsers(dest="groups_command", required=True)
    lp = sub.add_parser("list", help="every group of the cluster")
    lp.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
    lp.add_argument(
        "--state",
        nargs="?",
        const="",
        metavar="STATE[,STATE...]",
        help="show each group's state; with states (e.g. Stable,Empty), only those groups",
    )
    dp = sub.add_parser("describe", help="members, assignment, committed offset, log end offset and lag")
    dp.add_argument("group")
    dp.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
    op = sub.add_parser(
        "delete-offsets", help="delete committed offsets of a group (kafka-consumer-groups --delete-offsets)"
    )
    op.add_argument("group")
    op.add_argument(
        "--topic",
        action="append",
        required=True,
        metavar="TOPIC[:P,...]",
        help="every partition of TOPIC, or the ones listed; repeatable",
    )
    op.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
    return p


def topics_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpbroker topics", description="Topics of a Kafka-protocol cluster.")
    sub = p.add_subparsers(dest="topics_command", required=True)
    lp = sub.add_parser("list", help="every topic's name")
    lp.add_argument("--exclude-internal", action="store_true", help="leave out __consumer_offsets")
    dp = sub.add_parser(
        "describe", help="partitions, leaders, replicas, ISR, offline replicas and the topic's own configs"
    )
    dp.add_argument("topics", nargs="*", metavar="TOPIC", help="default: every topic")
    cp = sub.add_parser("create", help="a new topic (CreateTopics at the controller)")
    cp.add_argument("topic")
    cp.add_argument("--partitions", type=int, default=-1, help="default: the broker's num.partitions")
    cp.add_argument("--replication-factor", type=int, default=-1, help="default: the broker's")
    cp.add_argument("--config", action="append", default=[], metavar="NAME=VALUE")
    cp.add_argument("--if-not-exists", action="store_true", help="an existing topic is not an error")
    ap = sub.add_parser("alter", help="more partitions, or topic configs")
    ap.add_argument("topic")
    ap.add_argument("--partitions", type=int, help="the new partition count (only ever more)")
    ap.add_argument("--config", action="append", default=[], metavar="NAME=VALUE", help="set a topic config")
    ap.add_argument("--delete-config", action="append", default=[], metavar="NAME", help="back to the default")
    xp = sub.add_parser("delete", help="delete a topic and its data")
    xp.add_argument("topic")
    for sp in (ap, xp):
        sp.add_argument("--if-exists", action="store_true", help="a missing topic is not an error")
    for sp in (lp, dp, cp, ap, xp):
        sp.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
    return p


def log_dirs_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpbroker log-dirs", description="Log directories of a Kafka-protocol cluster.")
    sub = p.add_subparsers(dest="log_dirs_command", required=True)
    dp = sub.add_parser(
        "describe", help="each partition's log dir and size on every broker (kafka-log-dirs --describe)"
    )
    dp.add_argument("--topic-list", metavar="TOPIC[,TOPIC...]", help="default: every topic")
    dp.add_argument("--broker-list", metavar="ID[,ID...]", help="default: every broker of the cluster")
    dp.add_argument("--json", action="store_true", help="Kafka's JSON document instead of a table")
    dp.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
    return p


def console_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hpbroker console", description="The web console for a Kafka-protocol cluster (read-only)."
    )
    p.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    p.add_argument(
        "--sample-seconds", type=float, default=5.0, help="how often the plots' throughput and lag are sampled"
    )
    p.add_argument("--log-level", default=environment.value("HPBROKER_LOG_LEVEL"))
    return p


def console_main(args) -> int:
    from hpbroker.admin.client import ToolError, split_hostport
    from hpbroker.console.app import Console
    from hpbroker.console.history import History
    from hpbroker.metrics.http import MetricsHTTPServer

    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        split_hostport(args.bootstrap)
    except ToolError as exc:
        print(f"hpbroker console: {exc}", file=sys.stderr)
        return 2
    console = Console(args.bootstrap, History(args.bootstrap, args.sample_seconds))
    try:
        server = MetricsHTTPServer(args.host, args.port, None, console.page, on_stop=console.close)
    except OSError as exc:
        print(f"hpbroker console: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    logging.getLogger("hpbroker").info("console of %s on http://%s:%d/", args.bootstrap, args.host, server.port)
    while not stop.wait(1.0):
        pass
    server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "console":
        return console_main(console_parser().parse_args(argv[1:]))
    if argv and argv[0] == "groups":  # a tool, not the broker: the broker's flags stay as they were
        from hpbroker.admin.groups import main as groups_main

        return groups_main(groups_parser().parse_args(argv[1:]))
    if argv and argv[0] == "topics":
        from hpbroker.admin.topics import main as topics_main

        return topics_main(topics_parser().parse_args(argv[1:]))
    if argv and argv[0] == "acls":
        from hpbroker.admin.acls import main as acls_main
        from hpbroker.admin.acls import parser as acls_parser

        return acls_main(acls_parser().parse_args(argv[1:]))
    if argv and argv[0] == "users":
        from hpbroker.admin.users import main as users_main
        from hpbroker.admin.users import parser as users_parser

        return users_main(users_parser().parse_args(argv[1:]))
    if argv and argv[0] == "cluster":
        from hpbroker import local_cluster

        return local_cluster.main(local_cluster.parser().parse_args(argv[1:]))
    if argv and argv[0] == "log-dirs":
        from hpbroker.admin.log_dirs import main as log_dirs_main

        return log_dirs_main(log_dirs_parser().parse_args(argv[1:]))
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = build_config(args)
        ConnectionLimits.from_config(config)  # what Kafka refuses at start-up, before any fork
        if config.get("zookeeper.connect"):
            from hpbroker.cluster.broker_client import InterBrokerSecurity

            InterBrokerSecurity.from_config(config)  # the brokers' own TLS and SASL login, as Kafka checks them
    except (ConfigError, OSError) as exc:
        print(f"hpbroker: {exc}", file=sys.stderr)
        return 2
    unused = config.unused_names()
    if unused:
        logging.getLogger("hpbroker").warning("properties not used by hpbroker (ignored): %s", ", ".join(unused))
    try:
        event_loop = eventloop.check(args.event_loop or eventloop.default_loop())
        policy = scheduling.check(args.scheduling or scheduling.default_policy())
    except (eventloop.EventLoopError, scheduling.SchedulingError) as exc:
        print(f"hpbroker: {exc}", file=sys.stderr)
        return 2
    from hpbroker.storage.fd_limits import raise_open_file_limit

    raise_open_file_limit()  # before any fork: every child inherits it
    processors, handlers = topology_of(config)
    scheduling.apply(scheduling.for_topology(policy, handlers))  # before any fork, like the limit
    if handlers == 0:
        if processors > 1:
            print(
                "hpbroker: --processors above 1 needs --handlers 1 or more (--handlers 0 is the in-process mode)",
                file=sys.stderr,
            )
            return 2
        return eventloop.run(_run(config), event_loop)
    from hpbroker.server.multiproc.supervisor import Supervisor

    return Supervisor(config, processors, handlers, event_loop=event_loop).run()
