"""CreateAcls (api key 30), transcribed from Kafka's CreateAclsRequest.json and CreateAclsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 30
NAME = "CreateAcls"

REQUEST = Message(
    "CreateAclsRequest",
    api_key=30,
    valid="0-3",
    flexible="2+",
    fields=(
        F(
            "creations",
            "[]AclCreation",
            "0+",
            fields=(
                F("resource_type", "int8", "0+"),
                F("resource_name", "string", "0+"),
                F("resource_pattern_type", "int8", "1+", default=3),
                F("principal", "string", "0+"),
                F("host", "string", "0+"),
                F("operation", "int8", "0+"),
                F("permission_type", "int8", "0+"),
            ),
        ),
    ),
)

RESPONSE = Message(
    "CreateAclsResponse",
    api_key=30,
    valid="0-3",
    flexible="2+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F(
            "results",
            "[]AclCreationResult",
            "0+",
            fields=(
                F("error_code", "int16", "0+"),
                F("error_message", "string", "0+", nullable="0+"),
            ),
        ),
    ),
)
