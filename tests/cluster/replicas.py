"""Helpers for the replication tests: an idempotent acks=all producer of unique values with a
consumer reading along, the checks of CLUSTER.md section 6 on what they saw, and the replicas'
logs compared on disk (batch CRCs up to the HW, leader epoch caches)."""

from __future__ import annotations

import os
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from hpbroker.cluster import zk_data as zd
from hpbroker.records import batch as rb
from hpbroker.storage.leader_epoch import FILE_NAME
from hpbroker.testing import wait_until


class Load:
    """An idempotent acks=all producer sending unique values round-robin over the partitions, and
    a consumer reading along from ``start_offset`` of every partition (records before it are not
    the load's). ``acked``: (partition, offset, value) per acknowledgement; ``failed``: (value,
    error) of definite failures; ``consumed``: (partition, offset, value)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, rate_per_s: float = 400, start_offset: int = 0):
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.start_offset = start_offset
        self.acked: list[tuple[int, int, str]] = []
        self.failed: list[tuple[str, object]] = []
        self.sent: dict[int, list[str]] = {p: [] for p in range(partitions)}
        self.consumed: list[tuple[int, int, str]] = []
        self._stop = threading.Event()
        self._stop_consumer = threading.Event()
        self.interval = 1.0 / rate_per_s
        self.producer = threading.Thread(target=self._produce, daemon=True)
        self.consumer = threading.Thread(target=self._consume, daemon=True)

    def __enter__(self) -> Load:
        self.producer.start()
        self.consumer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _report(self, err, msg) -> None:
        value = msg.value().decode()
        if err is None:
            self.acked.append((msg.partition(), msg.offset(), value))
        else:
            self.failed.append((value, err))

    def _produce(self) -> None:
        p = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "delivery.timeout.ms": 120000,
                "topic.metadata.refresh.interval.ms": 1000,
            }
        )
        i = 0
        while not self._stop.is_set():
            part = i % self.partitions
            value = f"v{i}"
            self.sent[part].append(value)
            p.produce(self.topic, value=value.encode(), partition=part, on_delivery=self._report)
            i += 1
            p.poll(self.interval)
        p.flush(120)

    def _consume(self) -> None:
        c = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"reader-{self.topic}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "topic.metadata.refresh.interval.ms": 1000,
            }
        )
        c.assign([TopicPartition(self.topic, p, self.start_offset) for p in range(self.partitions)])
        try:
            while not self._stop_consumer.is_set():
                m = c.poll(0.2)
                if m is not None and not m.error():
                    self.consumed.append((m.partition(), m.offset(), m.value().decode()))
        finally:
            c.close()

    def wait_acked(self, more: int, timeout: float = 60) -> None:
        count = len(self.acked)
        wait_until(lambda: len(self.acked) >= count + more, timeout, f"{more} more acknowledgements")

    def stop(self) -> None:
        self._stop.set()
        self.producer.join(150)
        if self.acked:
            wanted = {v for _, _, v in self.acked}
            wait_until(lambda: wanted <= {v for _, _, v in self.consumed}, 60, "the consumer to read every ack")
        self._stop_consumer.set()
        self.consumer.join(30)

    def check(self) -> None:
        """lost-write, duplicate, inconsistent-offsets, nonmonotonic-send, G1a (section 6)."""
        read = {}
        for p, o, v in self.consumed:
            assert read.setdefault((p, o), v) == v, f"inconsistent offsets: {p}/{o} read as {read[(p, o)]} and {v}"
        by_value: dict[str, list[tuple[int, int]]] = {}
        for (p, o), v in read.items():
            by_value.setdefault(v, []).append((p, o))
        dups = {v: at for v, at in by_value.items() if len(at) > 1}
        assert not dups, f"duplicates: {list(dups.items())[:5]}"
        # an acknowledgement without an offset (librdkafka after a retry it could not tell apart
        # from a duplicate) must still be read, at some offset of its partition
        lost = [(p, o, v) for p, o, v in self.acked if (read.get((p, o)) != v if o is not None else v not in by_value)]
        assert not lost, f"{len(lost)} acknowledged values lost, e.g. {lost[:5]}"
        for part in range(self.partitions):
            order = {v: i for i, v in enumerate(self.sent[part])}
            in_log = [read[k] for k in sorted(k for k in read if k[0] == part)]
            ranks = [order[v] for v in in_log]
            assert ranks == sorted(ranks), f"partition {part}: values out of send order"
        definite = {v for v, err in self.failed if err.code() in (19, 87)}
        assert not definite & set(by_value), "a definitely failed value was read"


def partition_state(cluster, topic: str, partition: int):
    with cluster.zk_client() as zk:
        return zk.get_partition_state(zd.TopicPartition(topic, partition)).leader_and_isr


def wait_for_isr(cluster, topic: str, partition: int, isr: set[int], timeout: float = 60):
    return wait_until(
        lambda: set(partition_state(cluster, topic, partition).isr) == isr,
        timeout,
        f"the ISR of {topic}-{partition} to be {sorted(isr)}",
    )


def batches(data_dir: str, topic: str, partition: int) -> list[tuple[int, int, int, int]]:
    """(base offset, last offset, leader epoch, CRC) of every batch in the replica's files."""
    path = os.path.join(data_dir, f"{topic}-{partition}")
    out = []
    for name in sorted(n for n in os.listdir(path) if n.endswith(".log")):
        with open(os.path.join(path, name), "rb") as f:
            data = f.read()
        pos = 0
        while len(data) - pos >= rb.RECORD_BATCH_OVERHEAD:
            h = rb.read_header(data, pos)
            if h.batch_length <= 0 or pos + h.size > len(data):
                break
            out.append((h.base_offset, h.base_offset + h.last_offset_delta, h.partition_leader_epoch, h.crc))
            pos += h.size
    return out


def epoch_cache(data_dir: str, topic: str, partition: int, log_end_offset: int | None = None) -> list[tuple[int, int]]:
    """The replica's leader-epoch-checkpoint entries; with ``log_end_offset``, only those of
    epochs that wrote a batch (a leader records its epoch at its log end when elected, KAFKA-7415;
    its followers learn the epoch from its first batch)."""
    with open(os.path.join(data_dir, f"{topic}-{partition}", FILE_NAME)) as f:
        lines = f.read().split("\n")
    entries = [tuple(map(int, line.split())) for line in lines[2 : 2 + int(lines[1])]]
    return [e for e in entries if log_end_offset is None or e[1] < log_end_offset]


def assert_converged(cluster, topic: str, partitions: int, timeout: float = 60) -> None:
    """Once every replica is in the ISR: identical batches up to the leader's HW (all of them
    once the followers caught up), identical epoch caches."""
    ids = sorted(cluster.brokers)
    for part in range(partitions):
        wait_for_isr(cluster, topic, part, set(ids), timeout)

        def same(part=part):
            logs = [batches(cluster.brokers[i].data_dir, topic, part) for i in ids]
            end = logs[0][-1][1] + 1 if logs[0] else 0
            caches = [epoch_cache(cluster.brokers[i].data_dir, topic, part, end) for i in ids]
            return all(x == logs[0] for x in logs) and all(c == caches[0] for c in caches)

        wait_until(same, timeout, f"the replicas of {topic}-{part} to converge")


def now() -> float:
    return time.monotonic()
