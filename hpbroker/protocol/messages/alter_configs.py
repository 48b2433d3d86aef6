"""AlterConfigs (api key 33), transcribed from Kafka's AlterConfigsRequest.json and AlterConfigsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 33
NAME = "AlterConfigs"

REQUEST = Message(
    "AlterConfigsRequest",
    api_key=33,
    valid="0-2",
    flexible="2+",
    fields=(
        F(
            "resources",
            "[]AlterConfigsResource",
            "0+",
            fields=(
                F("resource_type", "int8", "0+"),
                F("resource_name", "string", "0+"),
                F(
                    "configs",
                    "[]AlterableConfig",
                    "0+",
                    fields=(
                        F("name", "string", "0+"),
                        F("value", "string", "0+", nullable="0+"),
                    ),
                ),
            ),
        ),
        F("validate_only", "bool", "0+"),
    ),
)

RESPONSE = Message(
    "AlterConfigsResponse",
    api_key=33,
    valid="0-2",
    flexible="2+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F(
            "responses",
            "[]AlterConfigsResourceResponse",
            "0+",
            fields=(
                F("error_code", "int16", "0+"),
                F("error_message", "string", "0+", nullable="0+"),
                F("resource_type", "int8", "0+"),
                F("resource_name", "string", "0+"),
            ),
        ),
    ),
)
