"""CreatePartitions (api key 37), transcribed from Kafka's CreatePartitionsRequest.json and CreatePartitionsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 37
NAME = "CreatePartitions"

REQUEST = Message(
    "CreatePartitionsRequest",
    api_key=37,
    valid="0-3",
    flexible="2+",
    fields=(
        F(
            "topics",
            "[]CreatePartitionsTopic",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F("count", "int32", "0+"),
                F(
                    "assignments",
                    "[]CreatePartitionsAssignment",
                    "0+",
                    nullable="0+",
                    fields=(F("broker_ids", "[]int32", "0+"),),
                ),
            ),
        ),
        F("timeout_ms", "int32", "0+"),
        F("validate_only", "bool", "0+"),
    ),
)

RESPONSE = Message(
    "CreatePartitionsResponse",
    api_key=37,
    valid="0-3",
    flexible="2+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F(
            "results",
            "[]CreatePartitionsTopicResult",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F("error_code", "int16", "0+"),
                F("error_message", "string", "0+", nullable="0+", default=None),
            ),
        ),
    ),
)
