"""The records of ``__consumer_offsets``: committed offsets and group metadata (Kafka's formats).

Every record's key and value start with an int16 version; the KEY version says what the record
is (0/1 offset commit, 2 group metadata), the value version its layout. Strings are int16 length
+ UTF-8 (-1 = null), bytes int32 length + data; all integers big-endian. We write key version 1
and value version 3 (the last non-flexible ones, readable by every Kafka tool) and read 0-3::

    OffsetCommitKey   (key version 0/1)
        version int16 | group string | topic string | partition int32
    OffsetCommitValue (value version 0-3)
        version int16 | offset int64 | leaderEpoch int32 (v3+) | metadata string
                      | commitTimestamp int64 | expireTimestamp int64 (v1 only)
    GroupMetadataKey  (key version 2)
        version int16 | group string
    GroupMetadataValue (value version 0-3)
        version int16 | protocolType string | generation int32 | protocol nullable string
                      | leader nullable string | currentStateTimestamp int64 (v2+)
                      | members int32 count, each:
                          memberId string | groupInstanceId nullable string (v3+)
                          | clientId string | clientHost string | rebalanceTimeout int32 (v1+)
                          | sessionTimeout int32 | subscription bytes | assignment bytes

A null value is a tombstone: the offset (or the whole group) is deleted; compaction keeps the
last record per key. Crash story: records reach the log as one batch per coordinator write, and
the in-memory state is changed only by replaying what was appended, so after a crash the replay
of the surviving batches rebuilds exactly the state whose writes completed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

OFFSET_COMMIT_KEY_VERSION = 1
GROUP_METADATA_KEY_VERSION = 2
OFFSET_COMMIT_VALUE_VERSION = 3
GROUP_METADATA_VALUE_VERSION = 3

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


class RecordFormatError(ValueError):
    """A __consumer_offsets record this code cannot read (truncated, unknown version)."""


# -- primitive writers/readers ----------------------------------------------------------------
def _w_str(out: bytearray, s: str | None) -> None:
    if s is None:
        out += _I16.pack(-1)
        return
    b = s.encode()
    out += _I16.pack(len(b))
    out += b


def _w_bytes(out: bytearray, b: bytes | None) -> None:
    if b is None:
        out += _I32.pack(-1)
        return
    out += _I32.pack(len(b))
    out += b


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf):
        self.buf = bytes(buf)
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise RecordFormatError(f"record truncated at byte {self.pos} (wanted {n} more)")
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b

    def i16(self) -> int:
        return _I16.unpack(self._take(2))[0]

    def i32(self) -> int:
        return _I32.unpack(self._take(4))[0]

    def i64(self) -> int:
        return _I64.unpack(self._take(8))[0]

    def str(self) -> str | None:
        n = self.i16()
        return None if n < 0 else self._take(n).decode()

    def bytes(self) -> bytes | None:
        n = self.i32()
        return None if n < 0 else self._take(n)


# -- typed records ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OffsetCommitKey:
    group: str
    topic: str
    partition: int


@dataclass
class OffsetCommitValue:
    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_timestamp: int = -1
    expire_timestamp: int = -1


@dataclass(frozen=True)
class GroupMetadataKey:
    group: str


@dataclass
class MemberMetadata:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout: int
    session_timeout: int
    subscription: bytes
    assignment: bytes


@dataclass
class GroupMetadataValue:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    current_state_timestamp: int = -1
    members: list[MemberMetadata] = field(default_factory=list)


def encode_key(key) -> bytes:
    out = bytearray()
    if isinstance(key, OffsetCommitKey):
        out += _I16.pack(OFFSET_COMMIT_KEY_VERSION)
        _w_str(out, key.group)
        _w_str(out, key.topic)
        out += _I32.pack(key.partition)
    elif isinstance(key, GroupMetadataKey):
        out += _I16.pack(GROUP_METADATA_KEY_VERSION)
        _w_str(out, key.group)
    else:
        raise TypeError(f"not a __consumer_offsets key: {key!r}")
    return bytes(out)


def encode_value(value) -> bytes | None:
    if value is None:
        return None  # tombstone
    out = bytearray()
    if isinstance(value, OffsetCommitValue):
        if value.expire_timestamp >= 0:  # only v1 carries one (Kafka writes v1 for it too)
            out += _I16.pack(1)
            out += _I64.pack(value.offset)
            _w_str(out, value.metadata or "")
            out += _I64.pack(value.commit_timestamp)
            out += _I64.pack(value.expire_timestamp)
            return bytes(out)
        out += _I16.pack(OFFSET_COMMIT_VALUE_VERSION)
        out += _I64.pack(value.offset)
        out += _I32.pack(value.leader_epoch)
        _w_str(out, value.metadata or "")
        out += _I64.pack(value.commit_timestamp)
    elif isinstance(value, GroupMetadataValue):
        out += _I16.pack(GROUP_METADATA_VALUE_VERSION)
        _w_str(out, value.protocol_type)
        out += _I32.pack(value.generation)
        _w_str(out, value.protocol)
        _w_str(out, value.leader)
        out += _I64.pack(value.current_state_timestamp)
        out += _I32.pack(len(value.members))
        for m in value.members:
            _w_str(out, m.member_id)
            _w_str(out, m.group_instance_id)
            _w_str(out, m.client_id)
            _w_str(out, m.client_host)
            out += _I32.pack(m.rebalance_timeout)
            out += _I32.pack(m.session_timeout)
            _w_bytes(out, m.subscription or b"")
            _w_bytes(out, m.assignment or b"")
    else:
        raise TypeError(f"not a __consumer_offsets value: {value!r}")
    return bytes(out)


def decode_key(buf):
    r = _Reader(buf)
    version = r.i16()
    if version in (0, 1):
        return OffsetCommitKey(r.str(), r.str(), r.i32())
    if version == 2:
        return GroupMetadataKey(r.str())
    raise RecordFormatError(f"unknown __consumer_offsets key version {version}")


def decode_value(key, buf):
    """The value of ``key``'s record; None for a tombstone."""
    if buf is None:
        return None
    r = _Reader(buf)
    version = r.i16()
    if version > 3 or version < 0:
        raise RecordFormatError(f"unsupported value version {version} for {type(key).__name__}")
    if isinstance(key, OffsetCommitKey):
        offset = r.i64()
        epoch = r.i32() if version >= 3 else -1
        metadata = r.str() or ""
        ts = r.i64()
        expire = r.i64() if version == 1 else -1
        return OffsetCommitValue(offset, epoch, metadata, ts, expire)
    protocol_type = r.str() or ""
    generation = r.i32()
    protocol = r.str()
    leader = r.str()
    state_ts = r.i64() if version >= 2 else -1
    members = []
    for _ in range(r.i32()):
        member_id = r.str()
        instance_id = r.str() if version >= 3 else None
        client_id = r.str()
        client_host = r.str()
        rebalance_timeout = r.i32() if version >= 1 else -1
        session_timeout = r.i32()
        subscription = r.bytes() or b""
        assignment = r.bytes() or b""
        if rebalance_timeout < 0:
            rebalance_timeout = session_timeout
        members.append(
            MemberMetadata(
                member_id,
                instance_id,
                client_id,
                client_host,
                rebalance_timeout,
                session_timeout,
                subscription,
                assignment,
            )
        )
    return GroupMetadataValue(protocol_type, generation, protocol, leader, state_ts, members)


# -- group -> __consumer_offsets partition -------------------------------------------------------
def java_string_hash(s: str) -> int:
    """Java's String.hashCode: 31*h + c over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(group_id: str, num_partitions: int) -> int:
    """Kafka's GroupCoordinator.partitionFor: Utils.abs(hashCode) % n (abs(MIN_VALUE) is 0)."""
    h = java_string_hash(group_id)
    h = 0 if h == -(1 << 31) else abs(h)
    return h % num_partitions
