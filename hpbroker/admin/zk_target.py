"""Where ``hpbroker acls`` and ``hpbroker users`` write: a single node's log directory
(``--data-dir``) or a cluster's ZooKeeper (``--zookeeper HOST:PORT[/chroot]``, as
``kafka-acls.sh --authorizer-properties zookeeper.connect=...`` and ``kafka-configs.sh
--zookeeper`` did). Through ZooKeeper a change is written with its change notification, so every
running broker applies it within a second."""

from __future__ import annotations

import argparse
import contextlib

SESSION_TIMEOUT_MS = 18000
CONNECTION_TIMEOUT_MS = 10000


def add_arguments(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--data-dir", help="a single node's log directory (the first of log.dirs)")
    where.add_argument("--zookeeper", metavar="HOST:PORT[/chroot]", help="a cluster's zookeeper.connect")


@contextlib.contextmanager
def zookeeper(connect: str):
    """A started KafkaZkClient on ``connect``, closed afterwards."""
    from hpbroker.cluster.zk_client import KafkaZkClient

    zk = KafkaZkClient(
        connect, session_timeout_ms=SESSION_TIMEOUT_MS, connection_timeout_ms=CONNECTION_TIMEOUT_MS
    ).start()
    try:
        yield zk
    finally:
        zk.close()
