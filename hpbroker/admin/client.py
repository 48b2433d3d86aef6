"""A small blocking Kafka-protocol client for tools: one socket per broker, versions negotiated
with ApiVersions, requests encoded by hpbroker.protocol.

Each API is used at the highest version both the broker and this client speak, capped at the
versions whose fields the tools rely on (``CAPS``), so it works against any Kafka release that
still accepts those versions.
"""

from __future__ import annotations

import socket
import struct

from hpbroker import protocol
from hpbroker.protocol import API_KEYS
from hpbroker.protocol.errors import ErrorCode

API_VERSIONS = 18
CAPS = {
    "Metadata": 8,
    "FindCoordinator": 2,
    "ListGroups": 4,
    "DescribeGroups": 4,
    "OffsetFetch": 5,
    "ListOffsets": 5,
    "CreateTopics": 4,
    "DeleteTopics": 3,
    "CreatePartitions": 1,
    "DescribeConfigs": 3,
    "AlterConfigs": 1,
    "Fetch": 12,  # names topics (v13+ names topic ids)
}


class ToolError(Exception):
    """What went wrong, in words for the command line; ``code`` is the Kafka error code when a
    broker refused (so a tool can accept some refusals, e.g. ``--if-not-exists``)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


def error_text(code: int, message: str | None = None) -> str:
    """A Kafka error code as Kafka names it, with the broker's message when it gave one."""
    try:
        name = ErrorCode(code).name
    except ValueError:
        name = f"error {code}"
    return f"{name}: {message}" if message else name


def recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        c = sock.recv(n)
        if not c:
            raise ToolError("broker closed the connection")
        chunks.append(c)
        n -= len(c)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> bytes:
    """One response frame (the bytes after its int32 size prefix), blocking."""
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    return recv_exact(sock, size)


class BrokerConnection:
    def __init__(self, host: str, port: int, timeout: float = 35.0, client_id: str = "hpbroker-admin"):
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ToolError(f"cannot connect to {host}:{port}: {exc}") from None
        self.client_id = client_id
        self.correlation_id = 0
        body = self._request(API_VERSIONS, 0, {})
        if body["error_code"]:
            raise ToolError(
                f"ApiVersions failed on {host}:{port}: {error_text(body['error_code'])}", body["error_code"]
            )
        self.versions = {a["api_key"]: (a["min_version"], a["max_version"]) for a in body["api_keys"]}

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _request(self, api_key: int, version: int, body: dict) -> dict:
        self.correlation_id += 1
        self.sock.sendall(protocol.encode_request(api_key, version, self.correlation_id, self.client_id, body))
        frame = recv_frame(self.sock)
        header, offset = protocol.decode_response_header(api_key, version, frame, 0)
        if header.correlation_id != self.correlation_id:
            raise ToolError("response out of order")
        return protocol.decode_response(api_key, version, frame, offset)

    def version_of(self, api: str) -> int:
        key = API_KEYS[api]
        if key not in self.versions:
            raise ToolError(f"broker does not support {api}")
        lo, hi = self.versions[key]
        ours_lo, ours_hi = protocol.SUPPORTED_VERSIONS[key]
        v = min(hi, CAPS.get(api, ours_hi), ours_hi)
        if v < max(lo, ours_lo):
            raise ToolError(f"no common version of {api} (broker {lo}-{hi})")
        return v

    def call(self, api: str, body: dict) -> tuple[int, dict]:
        """(version used, decoded response)."""
        v = self.version_of(api)
        return v, self._request(API_KEYS[api], v, body)


# -- shared by the tools ---------------------------------------------------------------------------
def split_hostport(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ToolError(f"--bootstrap wants HOST:PORT, got {hostport!r}")
    return host, int(port)


def metadata(conn: BrokerConnection, topics: list[str] | None) -> dict:
    """Metadata for ``topics`` (None: every topic), never creating one."""
    _, md = conn.call(
        "Metadata",
        {
            "topics": None if topics is None else [{"name": t} for t in topics],
            "allow_auto_topic_creation": False,
            "include_topic_authorized_operations": False,
            "include_cluster_authorized_operations": False,
        },
    )
    return md


def brokers_of(metadata: dict) -> dict[int, tuple[str, int]]:
    """node id -> (host, port) from a Metadata response."""
    return {b["node_id"]: (b["host"], b["port"]) for b in metadata["brokers"]}


def text_table(rows: list[list[str]]) -> str:
    """Rows as left-aligned columns, two spaces apart, as Kafka's tools print them."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
