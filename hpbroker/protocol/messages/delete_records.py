"""DeleteRecords (api key 21), transcribed from Kafka's DeleteRecordsRequest.json and DeleteRecordsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 21
NAME = "DeleteRecords"

REQUEST = Message(
    "DeleteRecordsRequest",
    api_key=21,
    valid="0-2",
    flexible="2+",
    fields=(
        F(
            "topics",
            "[]DeleteRecordsTopic",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F(
                    "partitions",
                    "[]DeleteRecordsPartition",
                    "0+",
                    fields=(
                        F("partition_index", "int32", "0+"),
                        F("offset", "int64", "0+"),
                    ),
                ),
            ),
        ),
        F("timeout_ms", "int32", "0+"),
    ),
)

RESPONSE = Message(
    "DeleteRecordsResponse",
    api_key=21,
    valid="0-2",
    flexible="2+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F(
            "topics",
            "[]DeleteRecordsTopicResult",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F(
                    "partitions",
                    "[]DeleteRecordsPartitionResult",
                    "0+",
                    fields=(
                        F("partition_index", "int32", "0+"),
                        F("low_watermark", "int64", "0+"),
                        F("error_code", "int16", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
