"""AddPartitionsToTxn (api key 24), transcribed from Kafka's AddPartitionsToTxnRequest.json and AddPartitionsToTxnResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 24
NAME = "AddPartitionsToTxn"

REQUEST = Message(
    "AddPartitionsToTxnRequest",
    api_key=24,
    valid="0-5",
    flexible="3+",
    fields=(
        F(
            "transactions",
            "[]AddPartitionsToTxnTransaction",
            "4+",
            fields=(
                F("transactional_id", "string", "4+"),
                F("producer_id", "int64", "4+"),
                F("producer_epoch", "int16", "4+"),
                F("verify_only", "bool", "4+", default=False),
                F(
                    "topics",
                    "[]AddPartitionsToTxnTopic",
                    "4+",
                    fields=(
                        F("name", "string", "0+"),
                        F("partitions", "[]int32", "0+"),
                    ),
                ),
            ),
        ),
        F("v3_and_below_transactional_id", "string", "0-3"),
        F("v3_and_below_producer_id", "int64", "0-3"),
        F("v3_and_below_producer_epoch", "int16", "0-3"),
        F(
            "v3_and_below_topics",
            "[]AddPartitionsToTxnTopic",
            "0-3",
            fields=(
                F("name", "string", "0+"),
                F("partitions", "[]int32", "0+"),
            ),
        ),
    ),
)

RESPONSE = Message(
    "AddPartitionsToTxnResponse",
    api_key=24,
    valid="0-5",
    flexible="3+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F("error_code", "int16", "4+"),
        F(
            "results_by_transaction",
            "[]AddPartitionsToTxnResult",
            "4+",
            fields=(
                F("transactional_id", "string", "4+"),
                F(
                    "topic_results",
                    "[]AddPartitionsToTxnTopicResult",
                    "4+",
                    fields=(
                        F("name", "string", "0+"),
                        F(
                            "results_by_partition",
                            "[]AddPartitionsToTxnPartitionResult",
                            "0+",
                            fields=(
                                F("partition_index", "int32", "0+"),
                                F("partition_error_code", "int16", "0+"),
                            ),
                        ),
                    ),
                ),
            ),
        ),
        F(
            "results_by_topic_v3_and_below",
            "[]AddPartitionsToTxnTopicResult",
            "0-3",
            fields=(
                F("name", "string", "0+"),
                F(
                    "results_by_partition",
                    "[]AddPartitionsToTxnPartitionResult",
                    "0+",
                    fields=(
                        F("partition_index", "int32", "0+"),
                        F("partition_error_code", "int16", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
