"""End-to-end latency of a long-polling consumer: produce one record, time until it is consumed.

    .venv/bin/python perf/mp_latency.py --topologies 0/0,2/2 --records 500

For each topology a fresh broker; a confluent-kafka consumer parked in long-poll Fetches
(fetch.wait.max.ms 500, fetch.min.bytes 1) and a producer sending one record every 5 ms (acks=1,
linger 0). The record carries its send time; the report is p50/p99 of receive - send. In the
multi-process topology a parked Fetch is woken by the processor's partition-table poller
(server/multiproc/processor.py FETCH_POLL_S), in-process by the fetch purgatory directly.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from hpbroker.testing import running_broker  # noqa: E402


def measure(processors: int, handlers: int, records: int) -> list[float]:
    from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    args = ["--processors", str(max(processors, 1)), "--handlers", str(handlers)]
    with running_broker(subprocess=True, args=args) as b:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        for f in admin.create_topics([NewTopic("lat", 1, 1)]).values():
            f.result(20)
        c = Consumer(
            {
                "bootstrap.servers": b.bootstrap,
                "group.id": "lat",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 500,
                "fetch.min.bytes": 1,
            }
        )
        c.assign([TopicPartition("lat", 0, OFFSET_END)])
        c.poll(1.0)
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": "1", "linger.ms": 0})
        p.list_topics("lat", timeout=10)
        lat: list[float] = []

        def consume():
            while len(lat) < records:
                m = c.poll(1.0)
                if m is not None and not m.error():
                    lat.append(time.perf_counter() - struct.unpack(">d", m.value())[0])

        t = threading.Thread(target=consume)
        t.start()
        time.sleep(0.5)
        for _ in range(records):
            p.produce("lat", struct.pack(">d", time.perf_counter()))
            p.poll(0)
            time.sleep(0.005)
        p.flush(10)
        t.join(30)
        c.close()
        return sorted(lat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topologies", default="0/0,1/1,2/2")
    ap.add_argument("--records", type=int, default=500)
    a = ap.parse_args()
    print("| processors/handlers | p50 ms | p99 ms |")
    print("|---|---|---|")
    for topo in a.topologies.split(","):
        p, h = (int(x) for x in topo.split("/"))
        lat = measure(p, h, a.records)
        name = "in-process" if h == 0 else f"{p}/{h}"
        print(f"| {name} | {1000 * lat[len(lat) // 2]:.2f} | {1000 * lat[int(len(lat) * 0.99)]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
