"""InitProducerId (api key 22), transcribed from Kafka's InitProducerIdRequest.json and InitProducerIdResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 22
NAME = "InitProducerId"

REQUEST = Message(
    "InitProducerIdRequest",
    api_key=22,
    valid="0-5",
    flexible="2+",
    fields=(
        F("transactional_id", "string", "0+", nullable="0+"),
        F("transaction_timeout_ms", "int32", "0+"),
        F("producer_id", "int64", "3+", default=-1),
        F("producer_epoch", "int16", "3+", default=-1),
    ),
)

RESPONSE = Message(
    "InitProducerIdResponse",
    api_key=22,
    valid="0-5",
    flexible="2+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F("error_code", "int16", "0+"),
        F("producer_id", "int64", "0+", default=-1),
        F("producer_epoch", "int16", "0+"),
    ),
)
