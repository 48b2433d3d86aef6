"""DescribeCluster (api key 60), transcribed from Kafka's DescribeClusterRequest.json and DescribeClusterResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 60
NAME = "DescribeCluster"

REQUEST = Message(
    "DescribeClusterRequest",
    api_key=60,
    valid="0-1",
    flexible="0+",
    fields=(
        F("include_cluster_authorized_operations", "bool", "0+"),
        F("endpoint_type", "int8", "1+", default=1),
    ),
)

RESPONSE = Message(
    "DescribeClusterResponse",
    api_key=60,
    valid="0-1",
    flexible="0+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F("error_code", "int16", "0+"),
        F("error_message", "string", "0+", nullable="0+", default=None),
        F("endpoint_type", "int8", "1+", default=1),
        F("cluster_id", "string", "0+"),
        F("controller_id", "int32", "0+", default=-1),
        F(
            "brokers",
            "[]DescribeClusterBroker",
            "0+",
            fields=(
                F("broker_id", "int32", "0+"),
                F("host", "string", "0+"),
                F("port", "int32", "0+"),
                F("rack", "string", "0+", nullable="0+", default=None),
            ),
        ),
        F("cluster_authorized_operations", "int32", "0+", default=-2147483648),
    ),
)
