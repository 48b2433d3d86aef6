"""DeleteTopics (api key 20), transcribed from Kafka's DeleteTopicsRequest.json and DeleteTopicsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 20
NAME = "DeleteTopics"

REQUEST = Message(
    "DeleteTopicsRequest",
    api_key=20,
    valid="0-6",
    flexible="4+",
    fields=(
        F(
            "topics",
            "[]DeleteTopicState",
            "6+",
            fields=(
                F("name", "string", "6+", nullable="6+", default=None),
                F("topic_id", "uuid", "6+"),
            ),
        ),
        F("topic_names", "[]string", "0-5"),
        F("timeout_ms", "int32", "0+"),
    ),
)

RESPONSE = Message(
    "DeleteTopicsResponse",
    api_key=20,
    valid="0-6",
    flexible="4+",
    fields=(
        F("throttle_time_ms", "int32", "1+"),
        F(
            "responses",
            "[]DeletableTopicResult",
            "0+",
            fields=(
                F("name", "string", "0+", nullable="6+"),
                F("topic_id", "uuid", "6+"),
                F("error_code", "int16", "0+"),
                F("error_message", "string", "5+", nullable="5+", default=None),
            ),
        ),
    ),
)
