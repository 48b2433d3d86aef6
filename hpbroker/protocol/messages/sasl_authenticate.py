"""SaslAuthenticate (api key 36), transcribed from Kafka's SaslAuthenticateRequest.json and SaslAuthenticateResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 36
NAME = "SaslAuthenticate"

REQUEST = Message(
    "SaslAuthenticateRequest", api_key=36, valid="0-2", flexible="2+", fields=(F("auth_bytes", "bytes", "0+"),)
)

RESPONSE = Message(
    "SaslAuthenticateResponse",
    api_key=36,
    valid="0-2",
    flexible="2+",
    fields=(
        F("error_code", "int16", "0+"),
        F("error_message", "string", "0+", nullable="0+"),
        F("auth_bytes", "bytes", "0+"),
        F("session_lifetime_ms", "int64", "1+", default=0),
    ),
)
