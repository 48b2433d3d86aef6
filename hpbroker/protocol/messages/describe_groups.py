"""DescribeGroups (api key 15), transcribed from Kafka's DescribeGroupsRequest.json and DescribeGroupsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 15
NAME = "DescribeGroups"

REQUEST = Message(
    "DescribeGroupsRequest",
    api_key=15,
    valid="0-5",
    flexible="5+",
    fields=(
        F("groups", "[]string", "0+"),
        F("include_authorized_operations", "bool", "3+"),
    ),
)

RESPONSE = Message(
    "DescribeGroupsResponse",
    api_key=15,
    valid="0-5",
    flexible="5+",
    fields=(
        F("throttle_time_ms", "int32", "1+"),
        F(
            "groups",
            "[]DescribedGroup",
            "0+",
            fields=(
                F("error_code", "int16", "0+"),
                F("group_id", "string", "0+"),
                F("group_state", "string", "0+"),
                F("protocol_type", "string", "0+"),
                F("protocol_data", "string", "0+"),
                F(
                    "members",
                    "[]DescribedGroupMember",
                    "0+",
                    fields=(
                        F("member_id", "string", "0+"),
                        F("group_instance_id", "string", "4+", nullable="4+", default=None),
                        F("client_id", "string", "0+"),
                        F("client_host", "string", "0+"),
                        F("member_metadata", "bytes", "0+"),
                        F("member_assignment", "bytes", "0+"),
                    ),
                ),
                F("authorized_operations", "int32", "3+", default=-2147483648),
            ),
        ),
    ),
)
