"""TxnOffsetCommit (api key 28), transcribed from Kafka's TxnOffsetCommitRequest.json and TxnOffsetCommitResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 28
NAME = "TxnOffsetCommit"

REQUEST = Message(
    "TxnOffsetCommitRequest",
    api_key=28,
    valid="0-4",
    flexible="3+",
    fields=(
        F("transactional_id", "string", "0+"),
        F("group_id", "string", "0+"),
        F("producer_id", "int64", "0+"),
        F("producer_epoch", "int16", "0+"),
        F("generation_id", "int32", "3+", default=-1),
        F("member_id", "string", "3+", default=""),
        F("group_instance_id", "string", "3+", nullable="3+", default=None),
        F(
            "topics",
            "[]TxnOffsetCommitRequestTopic",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F(
                    "partitions",
                    "[]TxnOffsetCommitRequestPartition",
                    "0+",
                    fields=(
                        F("partition_index", "int32", "0+"),
                        F("committed_offset", "int64", "0+"),
                        F("committed_leader_epoch", "int32", "2+", default=-1),
                        F("committed_metadata", "string", "0+", nullable="0+"),
                    ),
                ),
            ),
        ),
    ),
)

RESPONSE = Message(
    "TxnOffsetCommitResponse",
    api_key=28,
    valid="0-4",
    flexible="3+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F(
            "topics",
            "[]TxnOffsetCommitResponseTopic",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F(
                    "partitions",
                    "[]TxnOffsetCommitResponsePartition",
                    "0+",
                    fields=(
                        F("partition_index", "int32", "0+"),
                        F("error_code", "int16", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
