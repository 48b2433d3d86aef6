"""OffsetForLeaderEpoch (api key 23), transcribed from Kafka's OffsetForLeaderEpochRequest.json and OffsetForLeaderEpochResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 23
NAME = "OffsetForLeaderEpoch"

REQUEST = Message(
    "OffsetForLeaderEpochRequest",
    api_key=23,
    valid="0-4",
    flexible="4+",
    fields=(
        F("replica_id", "int32", "3+", default=-2),
        F(
            "topics",
            "[]OffsetForLeaderTopic",
            "0+",
            fields=(
                F("topic", "string", "0+"),
                F(
                    "partitions",
                    "[]OffsetForLeaderPartition",
                    "0+",
                    fields=(
                        F("partition", "int32", "0+"),
                        F("current_leader_epoch", "int32", "2+", default=-1),
                        F("leader_epoch", "int32", "0+"),
                    ),
                ),
            ),
        ),
    ),
)

RESPONSE = Message(
    "OffsetForLeaderEpochResponse",
    api_key=23,
    valid="0-4",
    flexible="4+",
    fields=(
        F("throttle_time_ms", "int32", "2+"),
        F(
            "topics",
            "[]OffsetForLeaderTopicResult",
            "0+",
            fields=(
                F("topic", "string", "0+"),
                F(
                    "partitions",
                    "[]EpochEndOffset",
                    "0+",
                    fields=(
                        F("error_code", "int16", "0+"),
                        F("partition", "int32", "0+"),
                        F("leader_epoch", "int32", "1+", default=-1),
                        F("end_offset", "int64", "0+", default=-1),
                    ),
                ),
            ),
        ),
    ),
)
