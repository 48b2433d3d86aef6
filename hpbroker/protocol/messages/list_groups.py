"""ListGroups (api key 16), transcribed from Kafka's ListGroupsRequest.json and ListGroupsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 16
NAME = "ListGroups"

REQUEST = Message(
    "ListGroupsRequest",
    api_key=16,
    valid="0-5",
    flexible="3+",
    fields=(
        F("states_filter", "[]string", "4+"),
        F("types_filter", "[]string", "5+"),
    ),
)

RESPONSE = Message(
    "ListGroupsResponse",
    api_key=16,
    valid="0-5",
    flexible="3+",
    fields=(
        F("throttle_time_ms", "int32", "1+"),
        F("error_code", "int16", "0+"),
        F(
            "groups",
            "[]ListedGroup",
            "0+",
            fields=(
                F("group_id", "string", "0+"),
                F("protocol_type", "string", "0+"),
                F("group_state", "string", "4+"),
                F("group_type", "string", "5+"),
            ),
        ),
    ),
)
