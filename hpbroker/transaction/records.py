"""The records of ``__transaction_state`` (Kafka's TransactionLog, key and value version 0).

Big-endian; strings are int16 length + UTF-8::

    key    version int16 (0) | transactional_id string
    value  version int16 (0) | producer_id int64 | producer_epoch int16
           | transaction_timeout_ms int32 | transaction_status int8 (state.STATUS)
           | transaction_partitions int32 count (-1: null), each:
                 topic string | partition_ids int32 count, each int32
           | transaction_last_update_timestamp_ms int64 | transaction_start_timestamp_ms int64

A null value is a tombstone (the transactional id expired); the topic is compacted, and the
last record of each key is the id's state. Partitions are written only in Ongoing and the
Prepare states (Kafka leaves them out of Empty and Complete records).
"""

from __future__ import annotations

import struct

from hpbroker.transaction.state import PREPARING, STATE_OF_STATUS, STATUS, TransactionMetadata, TransactionState

_KEY_HEAD = struct.Struct(">hh")
_VALUE_HEAD = struct.Struct(">hqhib")
_I16, _I32, _I64 = struct.Struct(">h"), struct.Struct(">i"), struct.Struct(">q")
_TIMES = struct.Struct(">qq")


class RecordFormatError(ValueError):
    """A __transaction_state record this code cannot read."""


def encode_key(transactional_id: str) -> bytes:
    b = transactional_id.encode()
    return _KEY_HEAD.pack(0, len(b)) + b


def decode_key(data: bytes) -> str:
    try:
        version, n = _KEY_HEAD.unpack_from(data, 0)
    except struct.error as exc:
        raise RecordFormatError(f"key: {exc}") from None
    if version != 0:
        raise RecordFormatError(f"key version {version}")
    return bytes(data[4 : 4 + n]).decode()


def encode_value(m: TransactionMetadata) -> bytes:
    out = bytearray(_VALUE_HEAD.pack(0, m.producer_id, m.producer_epoch, m.timeout_ms, STATUS[m.state]))
    with_partitions = m.state == TransactionState.ONGOING or m.state in PREPARING
    if not with_partitions:
        out += _I32.pack(-1)
    else:
        by_topic: dict[str, list[int]] = {}
        for topic, p in sorted(m.partitions):
            by_topic.setdefault(topic, []).append(p)
        out += _I32.pack(len(by_topic))
        for topic, parts in by_topic.items():
            b = topic.encode()
            out += _I16.pack(len(b)) + b + _I32.pack(len(parts))
            out += b"".join(_I32.pack(p) for p in parts)
    out += _TIMES.pack(m.last_update_ms, m.start_ms)
    return bytes(out)


def decode_value(transactional_id: str, data: bytes) -> TransactionMetadata:
    try:
        version, pid, epoch, timeout_ms, status = _VALUE_HEAD.unpack_from(data, 0)
        if version != 0:
            raise RecordFormatError(f"value version {version}")
        pos = _VALUE_HEAD.size
        (n,) = _I32.unpack_from(data, pos)
        pos += 4
        partitions = set()
        for _ in range(max(n, 0)):
            (k,) = _I16.unpack_from(data, pos)
            topic = bytes(data[pos + 2 : pos + 2 + k]).decode()
            pos += 2 + k
            (count,) = _I32.unpack_from(data, pos)
            pos += 4
            for _ in range(count):
                partitions.add((topic, _I32.unpack_from(data, pos)[0]))
                pos += 4
        last_update, start = _TIMES.unpack_from(data, pos)
    except (struct.error, UnicodeDecodeError) as exc:
        raise RecordFormatError(f"value: {exc}") from None
    if status not in STATE_OF_STATUS:
        raise RecordFormatError(f"transaction status {status}")
    return TransactionMetadata(
        transactional_id,
        pid,
        epoch,
        timeout_ms,
        STATE_OF_STATUS[status],
        partitions,
        start,
        last_update,
    )
