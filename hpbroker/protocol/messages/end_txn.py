"""EndTxn (api key 26), transcribed from Kafka's EndTxnRequest.json and EndTxnResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 26
NAME = "EndTxn"

REQUEST = Message(
    "EndTxnRequest",
    api_key=26,
    valid="0-5",
    flexible="3+",
    fields=(
        F("transactional_id", "string", "0+"),
        F("producer_id", "int64", "0+"),
        F("producer_epoch", "int16", "0+"),
        F("committed", "bool", "0+"),
    ),
)

RESPONSE = Message(
    "EndTxnResponse",
    api_key=26,
    valid="0-5",
    flexible="3+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F("error_code", "int16", "0+"),
        F("producer_id", "int64", "5+", default=-1),
        F("producer_epoch", "int16", "5+", default=-1),
    ),
)
