"""SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka runs them: credentials stored
salted, the server's and the client's side of the exchange. Sans-io: messages in, messages out.

A credential is what Kafka stores per user and mechanism (ZooKeeper /config/users/<user>, here
a file under the log directory on a single node), never the password:

    salt=<base64>,stored_key=<base64>,server_key=<base64>,iterations=<n>

    salted_password = Hi(password, salt, iterations)          (PBKDF2-HMAC)
    stored_key = H(HMAC(salted_password, "Client Key"))
    server_key = HMAC(salted_password, "Server Key")

The exchange (server side, ``ScramServer``): client-first ``n,,n=<user>,r=<cnonce>`` -> server-first
``r=<cnonce><snonce>,s=<salt>,i=<n>`` -> client-final ``c=biws,r=<nonce>,p=<proof>`` -> the proof
checked against stored_key, server-final ``v=<server signature>``. Kafka's extensions (``,tokenauth=true``
in client-first) are refused; an unknown user fails exactly as a wrong password does (a made-up
salt answers the first message, so a client cannot tell which users exist).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

MECHANISMS = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
#: ScramMechanism codes of AlterUserScramCredentials / DescribeUserScramCredentials
MECHANISM_CODES = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
MECHANISM_NAMES = {v: k for k, v in MECHANISM_CODES.items()}
MIN_ITERATIONS = 4096  # Kafka's ScramMechanism.minIterations
MAX_ITERATIONS = 16384  # Kafka's AlterUserScramCredentials limit


class ScramError(Exception):
    """The exchange failed: a wrong proof, an unknown user, a malformed message."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


@dataclass(frozen=True)
class ScramCredential:
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    def encode(self) -> str:
        return (
            f"salt={_b64(self.salt)},stored_key={_b64(self.stored_key)},"
            f"server_key={_b64(self.server_key)},iterations={self.iterations}"
        )

    @classmethod
    def decode(cls, text: str) -> ScramCredential:
        fields = dict(part.split("=", 1) for part in text.split(","))
        return cls(
            _unb64(fields["salt"]),
            _unb64(fields["stored_key"]),
            _unb64(fields["server_key"]),
            int(fields["iterations"]),
        )


def salted_password(mechanism: str, password: bytes, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac(MECHANISMS[mechanism], password, salt, iterations)


def credential_from_salted(mechanism: str, salted: bytes, salt: bytes, iterations: int) -> ScramCredential:
    h = MECHANISMS[mechanism]
    client_key = hmac.digest(salted, b"Client Key", h)
    return ScramCredential(salt, hashlib.new(h, client_key).digest(), hmac.digest(salted, b"Server Key", h), iterations)


def make_credential(mechanism: str, password: str, iterations: int = MIN_ITERATIONS, salt: bytes | None = None):
    salt = salt if salt is not None else os.urandom(32)
    return credential_from_salted(
        mechanism, salted_password(mechanism, password.encode(), salt, iterations), salt, iterations
    )


def _saslname(name: str) -> str:
    return name.replace("=3D", "=").replace("=2C", ",")


def _attributes(message: str) -> dict[str, str]:
    out = {}
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ScramError(f"malformed SCRAM message part {part!r}")
        out[part[0]] = part[2:]
    return out


class ScramServer:
    """One exchange, server side. ``lookup(user) -> ScramCredential | None``."""

    def __init__(self, mechanism: str, lookup):
        self.mechanism = mechanism
        self.hash = MECHANISMS[mechanism]
        self.lookup = lookup
        self.state = "first"
        self.username: str | None = None
        self.complete = False

    def evaluate(self, token: bytes) -> bytes:
        try:
            message = token.decode("utf-8")
        except UnicodeDecodeError:
            raise ScramError("SCRAM message is not UTF-8") from None
        if self.state == "first":
            return self._first(message)
        if self.state == "final":
            return self._final(message)
        raise ScramError("unexpected SCRAM message after the exchange")

    def _first(self, message: str) -> bytes:
        gs2, _, bare = message.partition(",")
        authzid, _, bare = bare.partition(",")
        if gs2 not in ("n", "y") or not bare:
            raise ScramError("SCRAM client-first message without a supported GS2 header")
        attrs = _attributes(bare)
        if "n" not in attrs or "r" not in attrs:
            raise ScramError("SCRAM client-first message without user or nonce")
        extensions = set(attrs) - {"n", "r"}
        if extensions:
            raise ScramError(f"SCRAM extensions not supported: {', '.join(sorted(extensions))}")
        self.username = _saslname(attrs["n"])
        if authzid and _saslname(authzid[2:]) != self.username:
            raise ScramError("authorization id differs from the user name")
        credential = self.lookup(self.username)
        self._unknown = credential is None
        if credential is None:  # answer as for a real user: nothing tells the client it is unknown
            credential = make_credential(self.mechanism, os.urandom(16).hex(), MIN_ITERATIONS)
        self.credential = credential
        self.nonce = attrs["r"] + _b64(os.urandom(24)).rstrip("=")
        self.client_first_bare = bare
        self.server_first = f"r={self.nonce},s={_b64(credential.salt)},i={credential.iterations}"
        self.state = "final"
        return self.server_first.encode()

    def _final(self, message: str) -> bytes:
        without_proof, _, proof_part = message.rpartition(",p=")
        attrs = _attributes(without_proof)
        # Kafka checks that the nonce ends with the server-first one, not that it equals it:
        # older librdkafka (kcat as distributions ship it) sends the client nonce twice
        if not attrs.get("r", "").endswith(self.nonce):
            raise ScramError("SCRAM nonce mismatch")
        if attrs.get("c") not in ("biws", "eSws"):
            raise ScramError("SCRAM channel binding not supported")
        self.state = "done"
        if self._unknown:
            raise ScramError(f"unknown user {self.username}")
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = hmac.digest(self.credential.stored_key, auth_message, self.hash)
        try:
            proof = _unb64(proof_part)
        except ValueError:
            raise ScramError("SCRAM proof is not base64") from None
        if len(proof) != len(signature):
            raise ScramError("invalid credentials")
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        if not hmac.compare_digest(hashlib.new(self.hash, client_key).digest(), self.credential.stored_key):
            raise ScramError("invalid credentials")
        server_signature = hmac.digest(self.credential.server_key, auth_message, self.hash)
        self.complete = True
        return f"v={_b64(server_signature)}".encode()


class ScramClient:
    """One exchange, client side (the tools, and a broker's own connections)."""

    def __init__(self, mechanism: str, username: str, password: str):
        self.mechanism, self.hash = mechanism, MECHANISMS[mechanism]
        self.username, self.password = username, password
        self.nonce = _b64(os.urandom(24)).rstrip("=")

    def first(self) -> bytes:
        name = self.username.replace("=", "=3D").replace(",", "=2C")
        self.first_bare = f"n={name},r={self.nonce}"
        return f"n,,{self.first_bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        text = server_first.decode()
        attrs = _attributes(text)
        if not attrs.get("r", "").startswith(self.nonce):
            raise ScramError("server nonce does not extend ours")
        salt, iterations = _unb64(attrs["s"]), int(attrs["i"])
        salted = salted_password(self.mechanism, self.password.encode(), salt, iterations)
        client_key = hmac.digest(salted, b"Client Key", self.hash)
        stored_key = hashlib.new(self.hash, client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{self.first_bare},{text},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, self.hash)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.expected = hmac.digest(hmac.digest(salted, b"Server Key", self.hash), auth_message, self.hash)
        return f"{without_proof},p={_b64(proof)}".encode()

    def verify(self, server_final: bytes) -> None:
        attrs = _attributes(server_final.decode())
        if "e" in attrs:
            raise ScramError(f"server refused: {attrs['e']}")
        if _unb64(attrs.get("v", "")) != self.expected:
            raise ScramError("server signature does not verify")
