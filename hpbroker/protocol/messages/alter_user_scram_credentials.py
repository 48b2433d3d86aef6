"""AlterUserScramCredentials (api key 51), transcribed from Kafka's AlterUserScramCredentialsRequest.json and AlterUserScramCredentialsResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 51
NAME = "AlterUserScramCredentials"

REQUEST = Message(
    "AlterUserScramCredentialsRequest",
    api_key=51,
    valid="0",
    flexible="0+",
    fields=(
        F(
            "deletions",
            "[]ScramCredentialDeletion",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F("mechanism", "int8", "0+"),
            ),
        ),
        F(
            "upsertions",
            "[]ScramCredentialUpsertion",
            "0+",
            fields=(
                F("name", "string", "0+"),
                F("mechanism", "int8", "0+"),
                F("iterations", "int32", "0+"),
                F("salt", "bytes", "0+"),
                F("salted_password", "bytes", "0+"),
            ),
        ),
    ),
)

RESPONSE = Message(
    "AlterUserScramCredentialsResponse",
    api_key=51,
    valid="0",
    flexible="0+",
    fields=(
        F("throttle_time_ms", "int32", "0+"),
        F(
            "results",
            "[]AlterUserScramCredentialsResult",
            "0+",
            fields=(
                F("user", "string", "0+"),
                F("error_code", "int16", "0+"),
                F("error_message", "string", "0+", nullable="0+"),
            ),
        ),
    ),
)
