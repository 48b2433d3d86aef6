"""OffsetCommit (api key 8), transcribed from Kafka's OffsetCommitRequest.json and OffsetCommitResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 8
NAME = "OffsetCommit"

REQUEST = Message(
    "OffsetCommitRequest",
    api_key=8,
    valid="0-9",
    flexible="8+",
    fields=(
        F("group_id", "string", "0+"),
        F("generation_id_or_member_epoch", "int32", "1+", default=-1),
        F("member_id", "string", "1+"),
        F("group_instance_id", "string", "7+", nullable="7+", default=None),
        F("retention_time_ms", "int64", "2-4", default=-1),
        F(
            "topics",
            "[]OffsetCommitRequestTopic",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F(
                    "partitions",
                    "[]OffsetCommitRequestPartition",
                    "0+",
                    fields=(
                        F("partition_index", "int32", "0+"),
                        F("committed_offset", "int64", "0+"),
                        F("committed_leader_epoch", "int32", "6+", default=-1),
                        F("commit_timestamp", "int64", "1", default=-1),
                        F("committed_metadata", "string", "0+", nullable="0+"),
                    ),
                ),
            ),
        ),
    ),
)

RESPONSE = Message(
    "OffsetCommitResponse",
    api_key=8,
    valid="0-9",
    flexible="8+",
    fields=(
        F("throttle_time_ms", "int32", "3+"),
        F(
            "topics",
            "[]OffsetCommitResponseTopic",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F(
                    "partitions",
                    "[]OffsetCommitResponsePartition",
                    "0+",
                    fields=(
                        F("partition_index", "int32", "0+"),
                        F("error_code", "int16", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
