"""DeleteGroups (api key 42), transcribed from Kafka's DeleteGroupsRequest.json and DeleteGroupsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 42
NAME = "DeleteGroups"

REQUEST = Message(
    "DeleteGroupsRequest", api_key=42, valid="0-2", flexible="2+", fields=(F("groups_names", "[]string", "0+"),)
)

RESPONSE = Message(
    "DeleteGroupsResponse",
    api_key=42,
    valid="0-2",
    flexible="2+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F(
            "results",
            "[]DeletableGroupResult",
            "0+",
            fields=(
                F("group_id", "string", "0+"),
                F("error_code", "int16", "0+"),
            ),
        ),
    ),
)
