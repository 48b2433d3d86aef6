"""SyncGroup (api key 14), transcribed from Kafka's SyncGroupRequest.json and SyncGroupResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 14
NAME = "SyncGroup"

REQUEST = Message(
    "SyncGroupRequest",
    api_key=14,
    valid="0-5",
    flexible="4+",
    fields=(
        F("group_id", "string", "0+"),
        F("generation_id", "int32", "0+"),
        F("member_id", "string", "0+"),
        F("group_instance_id", "string", "3+", nullable="3+", default=None),
        F("protocol_type", "string", "5+", nullable="5+", default=None),
        F("protocol_name", "string", "5+", nullable="5+", default=None),
        F(
            "assignments",
            "[]SyncGroupRequestAssignment",
            "0+",
            fields=(
                F("member_id", "string", "0+"),
                F("assignment", "bytes", "0+"),
            ),
        ),
    ),
)

RESPONSE = Message(
    "SyncGroupResponse",
    api_key=14,
    valid="0-5",
    flexible="4+",
    fields=(
        F("throttle_time_ms", "int32", "1+"),
        F("error_code", "int16", "0+"),
        F("protocol_type", "string", "5+", nullable="5+", default=None),
        F("protocol_name", "string", "5+", nullable="5+", default=None),
        F("assignment", "bytes", "0+"),
    ),
)
