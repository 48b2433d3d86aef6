"""SaslHandshake (api key 17), transcribed from Kafka's SaslHandshakeRequest.json and SaslHandshakeResponse.json.

F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see hpbroker/protocol/schema.py.
"""

from hpbroker.protocol.schema import Field as F
from hpbroker.protocol.schema import Message

API_KEY = 17
NAME = "SaslHandshake"

REQUEST = Message(
    "SaslHandshakeRequest", api_key=17, valid="0-1", flexible="none", fields=(F("mechanism", "string", "0+"),)
)

RESPONSE = Message(
    "SaslHandshakeResponse",
    api_key=17,
    valid="0-1",
    flexible="none",
    fields=(
        F("error_code", "int16", "0+"),
        F("mechanisms", "[]string", "0+"),
    ),
)
