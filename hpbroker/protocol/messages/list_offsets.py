"""ListOffsets (api key 2), transcribed from Kafka's ListOffsetsRequest.json and ListOffsetsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 2
NAME = "ListOffsets"

REQUEST = Message(
    "ListOffsetsRequest",
    api_key=2,
    valid="0-10",
    flexible="6+",
    fields=(
        F("replica_id", "int32", "0+"),
        F("isolation_level", "int8", "2+"),
        F(
            "topics",
            "[]ListOffsetsTopic",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F(
                    "partitions",
                    "[]ListOffsetsPartition",
                    "0+",
                    fields=(
                        F("partition_index", "int32", "0+"),
                        F("current_leader_epoch", "int32", "4+", default=-1),
                        F("timestamp", "int64", "0+"),
                        F("max_num_offsets", "int32", "0", default=1),
                    ),
                ),
            ),
        ),
        F("timeout_ms", "int32", "10+"),
    ),
)

RESPONSE = Message(
    "ListOffsetsResponse",
    api_key=2,
    valid="0-10",
    flexible="6+",
    fields=(
        F("throttle_time_ms", "int32", "2+"),
        F(
            "topics",
            "[]ListOffsetsTopicResponse",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F(
                    "partitions",
                    "[]ListOffsetsPartitionResponse",
                    "0+",
                    fields=(
                        F("partition_index", "int32", "0+"),
                        F("error_code", "int16", "0+"),
                        F("old_style_offsets", "[]int64", "0"),
                        F("timestamp", "int64", "1+", default=-1),
                        F("offset", "int64", "1+", default=-1),
                        F("leader_epoch", "int32", "4+", default=-1),
                    ),
                ),
            ),
        ),
    ),
)
