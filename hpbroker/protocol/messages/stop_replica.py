"""StopReplica (api key 5), transcribed from Kafka's StopReplicaRequest.json and StopReplicaResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 5
NAME = "StopReplica"

REQUEST = Message(
    "StopReplicaRequest",
    api_key=5,
    valid="0-4",
    flexible="2+",
    fields=(
        F("controller_id", "int32", "0+"),
        F("is_k_raft_controller", "bool", "4+", default=False),
        F("controller_epoch", "int32", "0+"),
        F("broker_epoch", "int64", "1+", default=-1),
        F("delete_partitions", "bool", "0-2"),
        F(
            "ungrouped_partitions",
            "[]StopReplicaPartitionV0",
            "0",
            fields=(
                F("topic_name", "string", "0"),
                F("partition_index", "int32", "0"),
            ),
        ),
        F(
            "topics",
            "[]StopReplicaTopicV1",
            "1-2",
            fields=(
                F("name", "string", "1-2"),
                F("partition_indexes", "[]int32", "1-2"),
            ),
        ),
        F(
            "topic_states",
            "[]StopReplicaTopicState",
            "3+",
            fields=(
                F("topic_name", "string", "3+"),
                F(
                    "partition_states",
                    "[]StopReplicaPartitionState",
                    "3+",
                    fields=(
                        F("partition_index", "int32", "3+"),
                        F("leader_epoch", "int32", "3+", default=-1),
                        F("delete_partition", "bool", "3+"),
                    ),
                ),
            ),
        ),
    ),
)

RESPONSE = Message(
    "StopReplicaResponse",
    api_key=5,
    valid="0-4",
    flexible="2+",
    fields=(
        F("error_code", "int16", "0+"),
        F(
            "partition_errors",
            "[]StopReplicaPartitionError",
            "0+",
            fields=(
                F("topic_name", "string", "0+"),
                F("partition_index", "int32", "0+"),
                F("error_code", "int16", "0+"),
            ),
        ),
    ),
)
