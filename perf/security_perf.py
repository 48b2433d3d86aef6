"""What security costs: produce and consume MB/s and broker CPU-s per GB over SSL and SASL_SSL
against PLAINTEXT, in the same run on the same broker; connection set-up rates (TLS handshakes,
SCRAM exchanges); the cost of authorization with 1,000 ACLs per request.

    python perf/security_perf.py --records 200000 --record-size 1000 --connections 1,4

Theory of operation: one hpbroker (``--processors P --handlers H``, default 1 and 1: TLS ends in
the processor) with a PLAINTEXT, an SSL, a SASL_PLAINTEXT and a SASL_SSL listener (a
self-signed certificate made with openssl, a SCRAM-SHA-256 user). For each listener and each
connection count, produce_perf.py then consume_perf.py run against that listener (librdkafka's
security settings through -X); the broker's CPU seconds (its whole process tree) are sampled
around each. Set-up rates are measured from Python clients opening connections one after the
other (client and broker share the machine: a lower bound of what the broker can do).
Authorization is measured without sockets: a Produce request through the one request path of
an in-process broker, with no authorizer and with an authorizer holding 1,000 ACLs (decisions
cached per principal and resource, as in the broker).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import _common

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

LISTENERS = ("PLAINTEXT", "SSL", "SASL_SSL")


def make_cert(directory: str) -> tuple[str, str]:
    key, crt = os.path.join(directory, "broker.key"), os.path.join(directory, "broker.crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", crt],
        check=True, capture_output=True,
    )  # fmt: skip
    pem = os.path.join(directory, "broker.pem")
    with open(pem, "wb") as out:
        for p in (key, crt):
            with open(p, "rb") as f:
                out.write(f.read())
    return pem, crt


def client_settings(listener: str, ca: str) -> list[str]:
    x = {
        "PLAINTEXT": {},
        "SSL": {"security.protocol": "ssl", "ssl.ca.location": ca},
        "SASL_SSL": {
            "security.protocol": "sasl_ssl",
            "ssl.ca.location": ca,
            "sasl.mechanisms": "SCRAM-SHA-256",
            "sasl.username": "perf",
            "sasl.password": "perf-secret",
        },
    }[listener]
    out = []
    for k, v in x.items():
        out += ["-X", f"{k}={v}"]
    return out


def run_script(script: str, args: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [sys.executable, os.path.join(HERE, script), *args, "--json-out", path, "--quiet"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return json.load(f)


def throughput(broker_pid: int, bootstrap: dict, ca: str, records: int, size: int, connections: list[int]) -> list:
    rows = []
    for listener in LISTENERS:
        for n in connections:
            topic = _common.unique_topic(f"sec-{listener.lower()}-{n}")
            extra = client_settings(listener, ca)
            before = _common.tree_cpu_sample(broker_pid)
            p = run_script(
                "produce_perf.py",
                ["--bootstrap", bootstrap[listener], "--topic", topic, "--records", str(records), "--record-size",
                 str(size), "--partitions", str(max(n, 1)), "--producers", str(n), *extra],
            )  # fmt: skip
            mid = _common.tree_cpu_sample(broker_pid)
            c = run_script(
                "consume_perf.py",
                ["--bootstrap", bootstrap[listener], "--topic", topic, "--records", str(records), "--consumers", str(n),
                 *extra],
            )  # fmt: skip
            after = _common.tree_cpu_sample(broker_pid)
            gb = records * size / 1e9
            rows.append(
                {
                    "listener": listener,
                    "connections": n,
                    "produce_mb_s": p["mb_per_s"],
                    "produce_cpu_s_per_gb": round(_common.cpu_seconds_between(before, mid) / gb, 2),
                    "consume_mb_s": c["mb_per_s"],
                    "consume_cpu_s_per_gb": round(_common.cpu_seconds_between(mid, after) / gb, 2),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def tls_handshakes_per_s(address: tuple[str, int], ca: str, seconds: float = 3.0) -> float:
    context = ssl.create_default_context(cafile=ca)
    n, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        with socket.create_connection(address) as raw, context.wrap_socket(raw, server_hostname="localhost"):
            n += 1
    return n / (time.monotonic() - start)


def scram_exchanges_per_s(address: tuple[str, int], seconds: float = 3.0) -> float:
    from hpbroker import protocol
    from hpbroker.admin.client import recv_frame
    from hpbroker.security.scram import ScramClient

    def call(sock, api_key, version, body, cid):
        sock.sendall(protocol.encode_request(api_key, version, cid, "perf", body))
        frame = recv_frame(sock)
        _, off = protocol.decode_response_header(api_key, version, frame, 0)
        return protocol.decode_response(api_key, version, frame, off)

    n, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        with socket.create_connection(address) as s:
            call(s, 17, 1, {"mechanism": "SCRAM-SHA-256"}, 1)
            client = ScramClient("SCRAM-SHA-256", "perf", "perf-secret")
            first = call(s, 36, 1, {"auth_bytes": client.first()}, 2)
            final = call(s, 36, 1, {"auth_bytes": client.final(first["auth_bytes"])}, 3)
            client.verify(final["auth_bytes"])
            n += 1
    return n / (time.monotonic() - start)


def authorization_cost(rounds: int = 20000) -> dict:
    """µs per Produce request through the request path, without and with 1,000 ACLs."""
    from hpbroker import request_path
    from hpbroker.broker.interface import Node
    from hpbroker.broker.local import LocalBroker
    from hpbroker.broker.request import Session
    from hpbroker.config import BrokerConfig
    from hpbroker.protocol import encode_request
    from hpbroker.records.builder import build_batch
    from hpbroker.security import authorizer as az
    from hpbroker.security.acl import AclBinding, Operation, PatternType, Permission, ResourceType

    out = {}
    for label, authorizing in (("none", False), ("1000 ACLs", True)):
        with tempfile.TemporaryDirectory() as d:
            props = {"log.dirs": d}
            if authorizing:
                props["authorizer.class.name"] = "kafka.security.authorizer.AclAuthorizer"
            broker = LocalBroker(BrokerConfig(props), Node(0, "localhost", 9092))
            try:
                import asyncio

                asyncio.run(broker.controller.create_topic("t", 1, {}))
                if authorizing:
                    acls = [
                        AclBinding(ResourceType.TOPIC, f"topic-{i}", PatternType.LITERAL, f"User:u{i}", "*", Operation.READ, Permission.ALLOW)
                        for i in range(997)
                    ]  # fmt: skip
                    acls += [
                        AclBinding(ResourceType.TOPIC, "t", PatternType.LITERAL, "User:perf", "*", Operation.WRITE, Permission.ALLOW),
                        AclBinding(ResourceType.TOPIC, "t", PatternType.PREFIXED, "User:perf", "*", Operation.DESCRIBE, Permission.ALLOW),
                        AclBinding(ResourceType.TOPIC, "*", PatternType.LITERAL, "User:x", "*", Operation.READ, Permission.DENY),
                    ]  # fmt: skip
                    broker.authorizer.create(acls)
                    assert isinstance(broker.authorizer, az.AclAuthorizer)
                session = Session(principal="User:perf", client_host="127.0.0.1", listener="PLAINTEXT")
                batch = bytes(build_batch([b"x" * 1000]))
                body = {"transactional_id": None, "acks": 1, "timeout_ms": 5000,
                        "topic_data": [{"name": "t", "partition_data": [{"index": 0, "records": batch}]}]}  # fmt: skip
                frame = encode_request(0, 8, 1, "perf", body)[4:]
                for _ in range(500):  # warm-up
                    request_path.serve(broker, bytearray(frame), "p:1", request_path.encode_frame, session=session)
                start = time.perf_counter()
                for _ in range(rounds):
                    request_path.serve(broker, bytearray(frame), "p:1", request_path.encode_frame, session=session)
                out[label] = round((time.perf_counter() - start) / rounds * 1e6, 2)
            finally:
                broker.close()
    out["overhead_pct"] = round((out["1000 ACLs"] / out["none"] - 1) * 100, 2)
    return out


def authorization_cost_rounds(rounds: int = 5) -> dict:
    """Medians over alternating rounds, and the cost of the check itself (one ``authorize`` call,
    as a Produce of one topic makes) against the request's: less noisy than the difference."""
    import statistics
    import timeit

    from hpbroker.security import authorizer as az
    from hpbroker.security.acl import AclBinding, Operation, PatternType, Permission, ResourceType

    runs = [authorization_cost() for _ in range(rounds)]
    with tempfile.TemporaryDirectory() as d:
        a = az.AclAuthorizer(az.FileAclStore(d))
        a.create(
            [AclBinding(ResourceType.TOPIC, f"topic-{i}", PatternType.LITERAL, f"User:u{i}", "*", Operation.READ, Permission.ALLOW) for i in range(999)]
            + [AclBinding(ResourceType.TOPIC, "t", PatternType.LITERAL, "User:perf", "*", Operation.WRITE, Permission.ALLOW)]
        )  # fmt: skip
        n = 200_000
        call = timeit.timeit(
            lambda: a.authorize("User:perf", "127.0.0.1", Operation.WRITE, ResourceType.TOPIC, "t"), number=n
        )
    none = statistics.median(r["none"] for r in runs)
    acls = statistics.median(r["1000 ACLs"] for r in runs)
    check_us = call / n * 1e6
    return {
        "request_us_no_authorizer": none,
        "request_us_1000_acls": acls,
        "authorize_call_us": round(check_us, 3),
        "check_share_of_request_pct": round(check_us / none * 100, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--record-size", type=int, default=1000)
    parser.add_argument("--connections", type=_common.csv_list(int), default=[1, 4])
    parser.add_argument("--processors", type=int, default=1)
    parser.add_argument("--handlers", type=int, default=1)
    parser.add_argument("--json-out", default=None)
    ns = parser.parse_args()
    from hpbroker.security.credentials import FileCredentialStore
    from hpbroker.security.scram import make_credential
    from hpbroker.testing import running_broker

    work = tempfile.mkdtemp(prefix="hpbroker-security-perf-")
    pem, ca = make_cert(work)
    data = os.path.join(work, "data")
    os.makedirs(data)
    FileCredentialStore(data).alter({("perf", "SCRAM-SHA-256"): make_credential("SCRAM-SHA-256", "perf-secret")}, [])
    config = {
        "listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": pem,
        "sasl.enabled.mechanisms": "SCRAM-SHA-256",
    }
    args = ["--processors", str(ns.processors), "--handlers", str(ns.handlers)]
    result = {"machine": _common.machine(), "command": sys.argv}
    with running_broker(subprocess=True, config=config, args=args, data_dir=data) as b:
        bootstrap = {k: v.replace("127.0.0.1", "localhost") for k, v in b.listeners.items()}
        result["throughput"] = throughput(b.process.pid, bootstrap, ca, ns.records, ns.record_size, ns.connections)
        host, port = b.listeners["SSL"].rsplit(":", 1)
        result["tls_handshakes_per_s"] = round(tls_handshakes_per_s(("localhost", int(port)), ca), 1)
        host, port = b.listeners["SASL_PLAINTEXT"].rsplit(":", 1)
        result["scram_exchanges_per_s"] = round(scram_exchanges_per_s((host, int(port))), 1)
    result["authorization_us_per_produce"] = authorization_cost_rounds()
    path = _common.write_json(result, ns.json_out, "security_perf")
    base = {r["connections"]: r for r in result["throughput"] if r["listener"] == "PLAINTEXT"}
    print("| listener | conns | produce MB/s (x plaintext) | CPU-s/GB | consume MB/s (x plaintext) | CPU-s/GB |")
    print("|---|---|---|---|---|---|")
    for r in result["throughput"]:
        p = base[r["connections"]]
        print(
            f"| {r['listener']} | {r['connections']} | {r['produce_mb_s']:.1f} ({r['produce_mb_s'] / p['produce_mb_s']:.2f}x) "
            f"| {r['produce_cpu_s_per_gb']} | {r['consume_mb_s']:.1f} ({r['consume_mb_s'] / p['consume_mb_s']:.2f}x) "
            f"| {r['consume_cpu_s_per_gb']} |"
        )
    print(f"TLS handshakes/s {result['tls_handshakes_per_s']}, SCRAM exchanges/s {result['scram_exchanges_per_s']}")
    print(f"authorization: {result['authorization_us_per_produce']} (µs per Produce request)")
    print(f"json: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
