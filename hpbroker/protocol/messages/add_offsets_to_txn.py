"""AddOffsetsToTxn (api key 25), transcribed from Kafka's AddOffsetsToTxnRequest.json and AddOffsetsToTxnResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 25
NAME = "AddOffsetsToTxn"

REQUEST = Message(
    "AddOffsetsToTxnRequest",
    api_key=25,
    valid="0-4",
    flexible="3+",
    fields=(
        F("transactional_id", "string", "0+"),
        F("producer_id", "int64", "0+"),
        F("producer_epoch", "int16", "0+"),
        F("group_id", "string", "0+"),
    ),
)

RESPONSE = Message(
    "AddOffsetsToTxnResponse",
    api_key=25,
    valid="0-4",
    flexible="3+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F("error_code", "int16", "0+"),
    ),
)
