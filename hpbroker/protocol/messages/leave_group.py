"""LeaveGroup (api key 13), transcribed from Kafka's LeaveGroupRequest.json and LeaveGroupResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 13
NAME = "LeaveGroup"

REQUEST = Message(
    "LeaveGroupRequest",
    api_key=13,
    valid="0-5",
    flexible="4+",
    fields=(
        F("group_id", "string", "0+"),
        F("member_id", "string", "0-2"),
        F(
            "members",
            "[]MemberIdentity",
            "3+",
            fields=(
                F("member_id", "string", "3+"),
                F("group_instance_id", "string", "3+", nullable="3+", default=None),
                F("reason", "string", "5+", nullable="5+", default=None),
            ),
        ),
    ),
)

RESPONSE = Message(
    "LeaveGroupResponse",
    api_key=13,
    valid="0-5",
    flexible="4+",
    fields=(
        F("throttle_time_ms", "int32", "1+"),
        F("error_code", "int16", "0+"),
        F(
            "members",
            "[]MemberResponse",
            "3+",
            fields=(
                F("member_id", "string", "3+"),
                F("group_instance_id", "string", "3+", nullable="3+"),
                F("error_code", "int16", "3+"),
            ),
        ),
    ),
)
