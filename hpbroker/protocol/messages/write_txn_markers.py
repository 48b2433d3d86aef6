"""WriteTxnMarkers (api key 27), transcribed from Kafka's WriteTxnMarkersRequest.json and WriteTxnMarkersResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 27
NAME = "WriteTxnMarkers"

REQUEST = Message(
    "WriteTxnMarkersRequest",
    api_key=27,
    valid="0-1",
    flexible="1+",
    fields=(
        F(
            "markers",
            "[]WritableTxnMarker",
            "0+",
            fields=(
                F("producer_id", "int64", "0+"),
                F("producer_epoch", "int16", "0+"),
                F("transaction_result", "bool", "0+"),
                F(
                    "topics",
                    "[]WritableTxnMarkerTopic",
                    "0+",
                    fields=(
                        F("name", "string", "0+"),
                        F("partition_indexes", "[]int32", "0+"),
                    ),
                ),
                F("coordinator_epoch", "int32", "0+"),
            ),
        ),
    ),
)

RESPONSE = Message(
    "WriteTxnMarkersResponse",
    api_key=27,
    valid="0-1",
    flexible="1+",
    fields=(
        F(
            "markers",
            "[]WritableTxnMarkerResult",
            "0+",
            fields=(
                F("producer_id", "int64", "0+"),
                F(
                    "topics",
                    "[]WritableTxnMarkerTopicResult",
                    "0+",
                    fields=(
                        F("name", "string", "0+"),
                        F(
                            "partitions",
                            "[]WritableTxnMarkerPartitionResult",
                            "0+",
                            fields=(
                                F("partition_index", "int32", "0+"),
                                F("error_code", "int16", "0+"),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
)
