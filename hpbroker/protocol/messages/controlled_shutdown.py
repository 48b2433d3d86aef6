"""ControlledShutdown (api key 7), transcribed from Kafka's ControlledShutdownRequest.json and ControlledShutdownResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 7
NAME = "ControlledShutdown"

REQUEST = Message(
    "ControlledShutdownRequest",
    api_key=7,
    valid="0-3",
    flexible="3+",
    fields=(
        F("broker_id", "int32", "0+"),
        F("broker_epoch", "int64", "2+", default=-1),
    ),
)

RESPONSE = Message(
    "ControlledShutdownResponse",
    api_key=7,
    valid="0-3",
    flexible="3+",
    fields=(
        F("error_code", "int16", "0+"),
        F(
            "remaining_partitions",
            "[]RemainingPartition",
            "0+",
            fields=(
                F("topic_name", "string", "0+"),
                F("partition_index", "int32", "0+"),
            ),
        ),
    ),
)
