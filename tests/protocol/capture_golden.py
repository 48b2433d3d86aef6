"""Record the request frames real Kafka clients send, as golden test data.

Usage: .venv/bin/python -m tests.protocol.capture_golden [--profile classic|flexible|all]

A tiny recording server (test tooling, not broker code) answers each request with hpbroker's
own encoders, just well enough to lead confluent-kafka, kafka-python and aiokafka through
producing (ApiVersions, Metadata, InitProducerId, Produce) and a group consumer (FindCoordinator,
JoinGroup, SyncGroup, OffsetFetch, ListOffsets, Fetch, OffsetCommit, Heartbeat, LeaveGroup),
and writes each request frame, size prefix included, to
tests/protocol/golden/<client>/<api>_request_v<N>_<n>.bin (Tansu's naming). Two advertised
profiles: "classic" (the non-flexible ranges of PROTOCOL.md's Advertise column) and
"flexible" (everything this codec supports), so both encodings are captured.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import struct
import threading
import time
from collections import Counter
from pathlib import Path

from hpbroker.protocol import (
    API_NAMES,
    SUPPORTED_VERSIONS,
    ProtocolError,
    api_versions_unsupported_response,
    decode_request,
    decode_request_header,
    encode_response,
)

GOLDEN = Path(__file__).parent / "golden"
TOPIC = "golden"
GROUP = "golden-group"
MAX_PER_VERSION = 2
_COUNTS: dict[str, Counter] = {}  # per client, across profiles: the file index <n>

CLASSIC = {
    0: (3, 8),
    1: (4, 11),
    2: (1, 5),
    3: (0, 8),
    8: (2, 7),
    9: (1, 5),
    10: (0, 2),
    11: (0, 5),
    12: (0, 3),
    13: (0, 3),
    14: (0, 3),
    15: (0, 4),
    16: (0, 2),
    18: (0, 4),
    19: (0, 4),
    20: (0, 3),
    22: (0, 1),
    32: (0, 3),
}
FLEXIBLE = {k: v for k, v in SUPPORTED_VERSIONS.items() if k not in (17, 36)}
FLEXIBLE[1] = (4, 12)  # Fetch 13 needs topic ids, which this stub does not hand out


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name)
    return out.lstrip("_")


class Recorder:
    """Serves one client run on its own port and saves what it receives."""

    def __init__(self, client: str, advertised: dict):
        self.client = client
        self.advertised = advertised
        self.counts: Counter = _COUNTS.setdefault(client, Counter())
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.offset = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read(self, conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _serve(self, conn):
        try:
            while True:
                size = struct.unpack(">i", self._read(conn, 4))[0]
                frame = struct.pack(">i", size) + self._read(conn, size)
                response = self._handle(frame)
                if response is None:
                    return
                if response:
                    conn.sendall(response)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def _save(self, key, version, frame):
        name = _snake(API_NAMES[key])
        n = self.counts[(key, version)]
        if n >= MAX_PER_VERSION:
            return
        self.counts[(key, version)] += 1
        out = GOLDEN / self.client / f"{name}_request_v{version}_{n}.bin"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(frame)

    def _handle(self, frame):
        header, offset = decode_request_header(frame, 4)
        key, version = header.api_key, header.api_version
        lo_hi = self.advertised.get(key)
        if key == 18 and (lo_hi is None or version > lo_hi[1]):
            return api_versions_unsupported_response(header.correlation_id, self.advertised)
        if lo_hi is None or not lo_hi[0] <= version <= lo_hi[1]:
            logging.warning("%s: unadvertised api %s v%s", self.client, key, version)
            return None
        try:
            body = decode_request(key, version, frame, offset)
        except ProtocolError as exc:
            logging.error("%s: cannot decode api %s v%s: %s", self.client, key, version, exc)
            return None
        self._save(key, version, frame)
        if key == 0 and body["acks"] == 0:
            return b""
        answer = getattr(self, f"_api_{key}", lambda v, b: {})(version, body)
        return encode_response(key, version, header.correlation_id, answer)

    # --- just enough of a broker: one node, one topic with one partition -----------------
    def _node(self):
        return {"node_id": 1, "host": "127.0.0.1", "port": self.port, "rack": None}

    def _api_18(self, version, body):
        return {
            "api_keys": [
                {"api_key": k, "min_version": lo, "max_version": hi} for k, (lo, hi) in sorted(self.advertised.items())
            ]
        }

    def _api_3(self, version, body):
        names = [t["name"] for t in body["topics"] or []] or [TOPIC]
        return {
            "brokers": [self._node()],
            "cluster_id": "golden-cluster",
            "controller_id": 1,
            "topics": [
                {
                    "error_code": 0,
                    "name": n,
                    "partitions": [
                        {
                            "partition_index": 0,
                            "leader_id": 1,
                            "leader_epoch": 0,
                            "replica_nodes": [1],
                            "isr_nodes": [1],
                        }
                    ],
                }
                for n in names
                if n
            ],
        }

    def _api_22(self, version, body):
        return {"producer_id": 4242, "producer_epoch": 0}

    def _api_0(self, version, body):
        responses = []
        for t in body["topic_data"]:
            parts = []
            for p in t["partition_data"]:
                parts.append(
                    {"index": p["index"], "base_offset": self.offset, "log_append_time_ms": -1, "log_start_offset": 0}
                )
                self.offset += 1
            responses.append({"name": t["name"], "partition_responses": parts})
        return {"responses": responses}

    def _api_10(self, version, body):
        node = self._node()
        return {
            "node_id": 1,
            "host": node["host"],
            "port": node["port"],
            "coordinators": [
                {"key": k, "node_id": 1, "host": node["host"], "port": node["port"]} for k in body["coordinator_keys"]
            ],
        }

    def _api_11(self, version, body):
        member = body["member_id"] or f"{self.client}-member-1"
        proto = body["protocols"][0]
        return {
            "generation_id": 1,
            "protocol_type": body["protocol_type"],
            "protocol_name": proto["name"],
            "leader": member,
            "member_id": member,
            "members": [
                {
                    "member_id": member,
                    "group_instance_id": body["group_instance_id"],
                    "metadata": bytes(proto["metadata"]),
                }
            ],
        }

    def _api_14(self, version, body):
        mine = [a for a in body["assignments"] if a["member_id"] == body["member_id"]]
        return {
            "protocol_type": body["protocol_type"],
            "protocol_name": body["protocol_name"],
            "assignment": bytes(mine[0]["assignment"]) if mine else b"",
        }

    def _api_9(self, version, body):
        return {
            "topics": [
                {
                    "name": t["name"],
                    "partitions": [
                        {"partition_index": p, "committed_offset": -1, "committed_leader_epoch": -1, "metadata": ""}
                        for p in t["partition_indexes"]
                    ],
                }
                for t in body["topics"] or []
            ]
        }

    def _api_2(self, version, body):
        return {
            "topics": [
                {
                    "name": t["name"],
                    "partitions": [
                        {"partition_index": p["partition_index"], "timestamp": -1, "offset": 0, "leader_epoch": 0}
                        for p in t["partitions"]
                    ],
                }
                for t in body["topics"]
            ]
        }

    def _api_1(self, version, body):
        time.sleep(0.05)  # an empty log: keep the consumer from spinning
        return {
            "responses": [
                {
                    "topic": t["topic"],
                    "partitions": [
                        {
                            "partition_index": p["partition"],
                            "high_watermark": 0,
                            "last_stable_offset": 0,
                            "log_start_offset": 0,
                            "records": b"",
                        }
                        for p in t["partitions"]
                    ],
                }
                for t in body["topics"]
            ]
        }

    def _api_8(self, version, body):
        return {
            "topics": [
                {"name": t["name"], "partitions": [{"partition_index": p["partition_index"]} for p in t["partitions"]]}
                for t in body["topics"]
            ]
        }

    def _api_13(self, version, body):
        return {
            "members": [
                {"member_id": m["member_id"], "group_instance_id": m["group_instance_id"]} for m in body["members"]
            ]
        }

    def _api_19(self, version, body):
        return {
            "topics": [
                {"name": t["name"], "num_partitions": max(t["num_partitions"], 1), "replication_factor": 1}
                for t in body["topics"]
            ]
        }

    def close(self):
        self.stopped = True
        self.sock.close()


def run_confluent(bootstrap):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    for i in range(3):
        p.produce(TOPIC, key=b"k%d" % i, value=b"confluent value %d" % i)
    p.flush(10)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.list_topics(timeout=5)
    for f in admin.create_topics([NewTopic("golden-created", 1, 1)]).values():
        try:
            f.result(timeout=5)
        except Exception as exc:  # the stub's answer is minimal; the request is what we want
            logging.info("create_topics: %s", exc)
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": GROUP,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([TOPIC])
    deadline = time.time() + 6
    while time.time() < deadline:
        c.poll(0.2)
    c.commit(offsets=[TopicPartition(TOPIC, 0, 3)], asynchronous=False)
    c.close()


def run_kafka_python(bootstrap):
    from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition

    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for i in range(3):
        p.send(TOPIC, key=b"k%d" % i, value=b"kafka-python value %d" % i)
    p.flush(10)
    p.close(5)
    c = KafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=GROUP, auto_offset_reset="earliest", enable_auto_commit=False
    )
    deadline = time.time() + 6
    while time.time() < deadline:
        c.poll(200)
    c.commit({TopicPartition(TOPIC, 0): OffsetAndMetadata(3, "", -1)})
    c.close()


def run_aiokafka(bootstrap):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    async def main():
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await p.start()
        for i in range(3):
            await p.send_and_wait(TOPIC, key=b"k%d" % i, value=b"aiokafka value %d" % i)
        await p.stop()
        c = AIOKafkaConsumer(
            TOPIC, bootstrap_servers=bootstrap, group_id=GROUP, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await c.start()
        deadline = time.time() + 6
        while time.time() < deadline:
            await c.getmany(timeout_ms=200)
        await c.commit({TopicPartition(TOPIC, 0): OffsetAndMetadata(3, "")})
        await c.stop()

    asyncio.run(asyncio.wait_for(main(), 40))


CLIENTS = {"confluent_kafka": run_confluent, "kafka_python": run_kafka_python, "aiokafka": run_aiokafka}


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", choices=["classic", "flexible", "all"], default="all")
    ap.add_argument("--client", choices=sorted(CLIENTS), action="append")
    args = ap.parse_args()
    profiles = {"classic": CLASSIC, "flexible": FLEXIBLE}
    chosen = profiles if args.profile == "all" else {args.profile: profiles[args.profile]}
    for client in args.client or CLIENTS:
        for profile, advertised in chosen.items():
            rec = Recorder(client, advertised)
            try:
                CLIENTS[client](f"127.0.0.1:{rec.port}")
            except Exception as exc:
                logging.warning("%s/%s ended with %r", client, profile, exc)
            finally:
                rec.close()
            logging.info("%s/%s: %s", client, profile, dict(rec.counts))


if __name__ == "__main__":
    main()
