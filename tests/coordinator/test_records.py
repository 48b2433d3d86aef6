"""__consumer_offsets record formats (byte-exact) and the group -> partition hash."""

import struct

import pytest

from hpbroker.coordinator.consumer_protocol import decode_assignment, encode_assignment
from hpbroker.coordinator.records import (
    GroupMetadataKey,
    GroupMetadataValue,
    MemberMetadata,
    OffsetCommitKey,
    OffsetCommitValue,
    RecordFormatError,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
    java_string_hash,
    partition_for,
)


@pytest.mark.parametrize(
    "s,h",
    [
        ("", 0),
        ("a", 97),
        ("hello", 99162322),
        ("Hello World", -862545276),
        ("polygenelubricants", -(2**31)),  # Java's famous Integer.MIN_VALUE hash
        ("\U0001f600", 0xD83D * 31 + 0xDE00),  # UTF-16 code units, not code points
    ],
)
def test_java_string_hash(s, h):
    assert java_string_hash(s) == h


def test_partition_for_matches_kafka():
    assert partition_for("polygenelubricants", 50) == 0  # Utils.abs(MIN_VALUE) == 0
    assert partition_for("Hello World", 50) == 862545276 % 50
    assert all(0 <= partition_for(f"group-{i}", 7) < 7 for i in range(100))


def test_offset_commit_key_bytes():
    key = encode_key(OffsetCommitKey("g", "t", 3))
    assert key == struct.pack(">hh1sh1si", 1, 1, b"g", 1, b"t", 3)


def test_offset_commit_value_v3_bytes():
    value = encode_value(OffsetCommitValue(42, 0, "meta", 1000))
    assert value == struct.pack(">hqih4sq", 3, 42, 0, 4, b"meta", 1000)


def test_group_metadata_key_bytes():
    assert encode_key(GroupMetadataKey("grp")) == struct.pack(">hh3s", 2, 3, b"grp")


def test_round_trips():
    k = OffsetCommitKey("g", "topic", 7)
    v = OffsetCommitValue(10, 2, "", 123)
    assert decode_key(encode_key(k)) == k
    assert decode_value(k, encode_value(v)) == v
    gk = GroupMetadataKey("g")
    gv = GroupMetadataValue(
        "consumer",
        5,
        "range",
        "m1",
        99,
        [
            MemberMetadata("m1", None, "c1", "/127.0.0.1", 30000, 10000, b"sub", b"asg"),
            MemberMetadata("m2", "inst", "c2", "/10.0.0.1", 30000, 10000, b"", b""),
        ],
    )
    assert decode_key(encode_key(gk)) == gk
    assert decode_value(gk, encode_value(gv)) == gv


def test_older_value_versions_decode():
    k = OffsetCommitKey("g", "t", 0)
    v1 = struct.pack(">hqh2sqq", 1, 5, 2, b"md", 77, 88)  # v1 carries expireTimestamp
    assert decode_value(k, v1) == OffsetCommitValue(5, -1, "md", 77, 88)
    gk = GroupMetadataKey("g")
    v0 = (
        struct.pack(">h", 0)
        + struct.pack(">h8s", 8, b"consumer")
        + struct.pack(">i", 1)
        + struct.pack(">h5s", 5, b"range")
        + struct.pack(">h2s", 2, b"m1")
        + struct.pack(">i", 1)
        + struct.pack(">h2s", 2, b"m1")
        + struct.pack(">h2s", 2, b"c1")
        + struct.pack(">h2s", 2, b"/h")
        + struct.pack(">i", 6000)
        + struct.pack(">i0s", 0, b"")
        + struct.pack(">i0s", 0, b"")
    )
    got = decode_value(gk, v0)
    assert got.generation == 1 and got.members[0].rebalance_timeout == 6000


def test_tombstone_and_bad_records():
    assert encode_value(None) is None
    assert decode_value(GroupMetadataKey("g"), None) is None
    with pytest.raises(RecordFormatError):
        decode_key(struct.pack(">h", 9))
    with pytest.raises(RecordFormatError):
        decode_value(OffsetCommitKey("g", "t", 0), struct.pack(">hq", 3, 1))


def test_consumer_protocol_assignment_round_trip():
    a = [("t1", [0, 2]), ("t2", [1])]
    assert decode_assignment(encode_assignment(a)) == a
    assert decode_assignment(b"") == []
