"""ListTransactions (api key 66), transcribed from Kafka's ListTransactionsRequest.json and ListTransactionsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 66
NAME = "ListTransactions"

REQUEST = Message(
    "ListTransactionsRequest",
    api_key=66,
    valid="0-1",
    flexible="0+",
    fields=(
        F("state_filters", "[]string", "0+"),
        F("producer_id_filters", "[]int64", "0+"),
        F("duration_filter", "int64", "1+", default=-1),
    ),
)

RESPONSE = Message(
    "ListTransactionsResponse",
    api_key=66,
    valid="0-1",
    flexible="0+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F("error_code", "int16", "0+"),
        F("unknown_state_filters", "[]string", "0+"),
        F(
            "transaction_states",
            "[]TransactionState",
            "0+",
            fields=(
                F("transactional_id", "string", "0+"),
                F("producer_id", "int64", "0+"),
                F("transaction_state", "string", "0+"),
            ),
        ),
    ),
)
