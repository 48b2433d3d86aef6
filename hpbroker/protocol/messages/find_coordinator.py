"""FindCoordinator (api key 10), transcribed from Kafka's FindCoordinatorRequest.json and FindCoordinatorResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 10
NAME = "FindCoordinator"

REQUEST = Message(
    "FindCoordinatorRequest",
    api_key=10,
    valid="0-6",
    flexible="3+",
    fields=(
        F("key", "string", "0-3"),
        F("key_type", "int8", "1+", default=0),
        F("coordinator_keys", "[]string", "4+"),
    ),
)

RESPONSE = Message(
    "FindCoordinatorResponse",
    api_key=10,
    valid="0-6",
    flexible="3+",
    fields=(
        F("throttle_time_ms", "int32", "1+"),
        F("error_code", "int16", "0-3"),
        F("error_message", "string", "1-3", nullable="1-3"),
        F("node_id", "int32", "0-3"),
        F("host", "string", "0-3"),
        F("port", "int32", "0-3"),
        F(
            "coordinators",
            "[]Coordinator",
            "4+",
            fields=(
                F("key", "string", "4+"),
                F("node_id", "int32", "4+"),
                F("host", "string", "4+"),
                F("port", "int32", "4+"),
                F("error_code", "int16", "4+"),
                F("error_message", "string", "4+", nullable="4+"),
            ),
        ),
    ),
)
