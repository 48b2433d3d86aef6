"""LeaderAndIsr (api key 4), transcribed from Kafka's LeaderAndIsrRequest.json and LeaderAndIsrResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 4
NAME = "LeaderAndIsr"

REQUEST = Message(
    "LeaderAndIsrRequest",
    api_key=4,
    valid="0-7",
    flexible="4+",
    fields=(
        F("controller_id", "int32", "0+"),
        F("is_k_raft_controller", "bool", "7+", default=False),
        F("controller_epoch", "int32", "0+"),
        F("broker_epoch", "int64", "2+", default=-1),
        F("type", "int8", "5+"),
        F(
            "ungrouped_partition_states",
            "[]LeaderAndIsrPartitionState",
            "0-1",
            fields=(
                F("topic_name", "string", "0-1"),
                F("partition_index", "int32", "0+"),
                F("controller_epoch", "int32", "0+"),
                F("leader", "int32", "0+"),
                F("leader_epoch", "int32", "0+"),
                F("isr", "[]int32", "0+"),
                F("partition_epoch", "int32", "0+"),
                F("replicas", "[]int32", "0+"),
                F("adding_replicas", "[]int32", "3+"),
                F("removing_replicas", "[]int32", "3+"),
                F("is_new", "bool", "1+", default=False),
                F("leader_recovery_state", "int8", "6+", default=0),
            ),
        ),
        F(
            "topic_states",
            "[]LeaderAndIsrTopicState",
            "2+",
            fields=(
                F("topic_name", "string", "2+"),
                F("topic_id", "uuid", "5+"),
                F(
                    "partition_states",
                    "[]LeaderAndIsrPartitionState",
                    "2+",
                    fields=(
                        F("topic_name", "string", "0-1"),
                        F("partition_index", "int32", "0+"),
                        F("controller_epoch", "int32", "0+"),
                        F("leader", "int32", "0+"),
                        F("leader_epoch", "int32", "0+"),
                        F("isr", "[]int32", "0+"),
                        F("partition_epoch", "int32", "0+"),
                        F("replicas", "[]int32", "0+"),
                        F("adding_replicas", "[]int32", "3+"),
                        F("removing_replicas", "[]int32", "3+"),
                        F("is_new", "bool", "1+", default=False),
                        F("leader_recovery_state", "int8", "6+", default=0),
                    ),
                ),
            ),
        ),
        F(
            "live_leaders",
            "[]LeaderAndIsrLiveLeader",
            "0+",
            fields=(
                F("broker_id", "int32", "0+"),
                F("host_name", "string", "0+"),
                F("port", "int32", "0+"),
            ),
        ),
    ),
)

RESPONSE = Message(
    "LeaderAndIsrResponse",
    api_key=4,
    valid="0-7",
    flexible="4+",
    fields=(
        F("error_code", "int16", "0+"),
        F(
            "partition_errors",
            "[]LeaderAndIsrPartitionError",
            "0-4",
            fields=(
                F("topic_name", "string", "0-4"),
                F("partition_index", "int32", "0+"),
                F("error_code", "int16", "0+"),
            ),
        ),
        F(
            "topics",
            "[]LeaderAndIsrTopicError",
            "5+",
            fields=(
                F("topic_id", "uuid", "5+"),
                F(
                    "partition_errors",
                    "[]LeaderAndIsrPartitionError",
                    "5+",
                    fields=(
                        F("topic_name", "string", "0-4"),
                        F("partition_index", "int32", "0+"),
                        F("error_code", "int16", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
