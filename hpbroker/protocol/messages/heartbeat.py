"""Heartbeat (api key 12), transcribed from Kafka's HeartbeatRequest.json and HeartbeatResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 12
NAME = "Heartbeat"

REQUEST = Message(
    "HeartbeatRequest",
    api_key=12,
    valid="0-4",
    flexible="4+",
    fields=(
        F("group_id", "string", "0+"),
        F("generation_id", "int32", "0+"),
        F("member_id", "string", "0+"),
        F("group_instance_id", "string", "3+", nullable="3+", default=None),
    ),
)

RESPONSE = Message(
    "HeartbeatResponse",
    api_key=12,
    valid="0-4",
    flexible="4+",
    fields=(
        F("throttle_time_ms", "int32", "1+"),
        F("error_code", "int16", "0+"),
    ),
)
