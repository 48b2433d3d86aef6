"""DescribeTransactions (api key 65), transcribed from Kafka's DescribeTransactionsRequest.json and DescribeTransactionsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 65
NAME = "DescribeTransactions"

REQUEST = Message(
    "DescribeTransactionsRequest",
    api_key=65,
    valid="0",
    flexible="0+",
    fields=(F("transactional_ids", "[]string", "0+"),),
)

RESPONSE = Message(
    "DescribeTransactionsResponse",
    api_key=65,
    valid="0",
    flexible="0+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F(
            "transaction_states",
            "[]TransactionState",
            "0+",
            fields=(
                F("error_code", "int16", "0+"),
                F("transactional_id", "string", "0+"),
                F("transaction_state", "string", "0+"),
                F("transaction_timeout_ms", "int32", "0+"),
                F("transaction_start_time_ms", "int64", "0+"),
                F("producer_id", "int64", "0+"),
                F("producer_epoch", "int16", "0+"),
                F(
                    "topics",
                    "[]TopicData",
                    "0+",
                    fields=(
                        F("topic", "string", "0+"),
                        F("partitions", "[]int32", "0+"),
                    ),
                ),
            ),
        ),
    ),
)
