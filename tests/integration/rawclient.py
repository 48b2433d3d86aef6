"""A minimal blocking Kafka-protocol client for tests that need exact requests (idempotence
sequences, hostile frames), built on hpbroker.protocol's encoders and decoders."""

import socket

from hpbroker import protocol
from hpbroker.admin.client import recv_frame


class RawClient:
    def __init__(self, bootstrap: str, timeout: float = 10.0):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.correlation_id = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, api_key, version, body, client_id="raw"):
        self.correlation_id += 1
        self.sock.sendall(protocol.encode_request(api_key, version, self.correlation_id, client_id, body))
        return self.correlation_id

    def recv_frame(self) -> bytes:
        return recv_frame(self.sock)

    def request(self, api_key, version, body):
        cid = self.send(api_key, version, body)
        frame = self.recv_frame()
        header, offset = protocol.decode_response_header(api_key, version, frame, 0)
        assert header.correlation_id == cid
        return protocol.decode_response(api_key, version, frame, offset)

    def is_closed_by_peer(self, timeout=5.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


def produce_body(topic, partition, records, acks=-1):
    return {
        "transactional_id": None,
        "acks": acks,
        "timeout_ms": 5000,
        "topic_data": [{"name": topic, "partition_data": [{"index": partition, "records": records}]}],
    }


def produce_result(resp):
    p = resp["responses"][0]["partition_responses"][0]
    return p["error_code"], p["base_offset"]
