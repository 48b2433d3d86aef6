"""OffsetDelete (api key 47), transcribed from Kafka's OffsetDeleteRequest.json and OffsetDeleteResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 47
NAME = "OffsetDelete"

REQUEST = Message(
    "OffsetDeleteRequest",
    api_key=47,
    valid="0",
    flexible="none",
    fields=(
        F("group_id", "string", "0+"),
        F(
            "topics",
            "[]OffsetDeleteRequestTopic",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F("partitions", "[]OffsetDeleteRequestPartition", "0+", fields=(F("partition_index", "int32", "0+"),)),
            ),
        ),
    ),
)

RESPONSE = Message(
    "OffsetDeleteResponse",
    api_key=47,
    valid="0",
    flexible="none",
    fields=(
        F("error_code", "int16", "0+"),
        F("throttle_time_ms", "int32", "0+"),
        F(
            "topics",
            "[]OffsetDeleteResponseTopic",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F(
                    "partitions",
                    "[]OffsetDeleteResponsePartition",
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
