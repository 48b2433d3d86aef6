"""The SASL server's state table and exchanges (hpbroker/security/sasl_server.py, scram.py)."""

import pytest

from hpbroker.broker.request import Session
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security import sasl_server as ss
from hpbroker.security.scram import ScramClient, ScramCredential, ScramError, ScramServer, make_credential


class Recorder:
    def __init__(self):
        self.events = []

    def authenticated(self):
        self.events.append("ok")

    def authentication_failed(self, reason):
        self.events.append(("failed", reason))


def server(mechanisms=("PLAIN", "SCRAM-SHA-256"), users=None):
    store = type("S", (), {"lookup": lambda self, u, m: (users or {}).get((u, m))})()
    settings = ss.SaslSettings("SASL_PLAINTEXT", mechanisms, {"alice": "alice-secret"}, store, failure_delay_s=0)
    srv = settings.new_server(Session(client_host="10.0.0.1", listener="SASL_PLAINTEXT"))
    srv.connection = Recorder()
    return srv


def test_the_state_table_names_every_legal_move():
    assert ss.TRANSITIONS[(ss.HANDSHAKE, "handshake")] == ss.AUTHENTICATE
    assert (ss.HANDSHAKE, "authenticate") not in ss.TRANSITIONS
    assert ss.TRANSITIONS[(ss.COMPLETE, "handshake")] == ss.REAUTH
    assert ss.TRANSITIONS[(ss.EXPIRED, "handshake")] == ss.REAUTH


def test_plain_success_sets_the_principal():
    srv = server()
    assert srv.handshake(1, "PLAIN") == {"error_code": 0, "mechanisms": ["PLAIN", "SCRAM-SHA-256"]}
    answer = srv.authenticate(1, b"\0alice\0alice-secret")
    assert answer["error_code"] == 0 and srv.complete
    assert srv.session.principal == "User:alice" and srv.connection.events == ["ok"]


def test_plain_wrong_password_fails_and_closes():
    srv = server()
    srv.handshake(1, "PLAIN")
    answer = srv.authenticate(1, b"\0alice\0nope")
    assert answer["error_code"] == ErrorCode.SASL_AUTHENTICATION_FAILED
    assert answer["error_message"] == "Authentication failed: Invalid username or password"
    assert srv.connection.events[0][0] == "failed" and not srv.complete


def test_unsupported_mechanism_and_out_of_order_requests():
    srv = server()
    assert srv.handshake(1, "GSSAPI")["error_code"] == ErrorCode.UNSUPPORTED_SASL_MECHANISM
    srv = server()
    assert srv.authenticate(1, b"x")["error_code"] == ErrorCode.ILLEGAL_SASL_STATE


def test_scram_exchange_and_a_reauthentication_that_changes_principal_fails():
    cred = make_credential("SCRAM-SHA-256", "pw")
    srv = server(users={("alice", "SCRAM-SHA-256"): cred, ("bob", "SCRAM-SHA-256"): cred})
    srv.handshake(1, "SCRAM-SHA-256")
    client = ScramClient("SCRAM-SHA-256", "alice", "pw")
    first = srv.authenticate(1, client.first())
    final = srv.authenticate(1, client.final(first["auth_bytes"]))
    client.verify(final["auth_bytes"])
    assert srv.session.principal == "User:alice"
    srv.handshake(1, "SCRAM-SHA-256")
    bob = ScramClient("SCRAM-SHA-256", "bob", "pw")
    first = srv.authenticate(1, bob.first())
    answer = srv.authenticate(1, bob.final(first["auth_bytes"]))
    assert answer["error_code"] == ErrorCode.SASL_AUTHENTICATION_FAILED
    assert "Cannot change principals" in answer["error_message"]


def test_scram_credentials_round_trip_as_kafka_writes_them():
    cred = make_credential("SCRAM-SHA-512", "pw", 8192)
    text = cred.encode()
    assert text.startswith("salt=") and text.endswith(",iterations=8192")
    assert ScramCredential.decode(text) == cred


def test_scram_unknown_user_looks_like_a_wrong_password():
    srv = ScramServer("SCRAM-SHA-256", lambda user: None)
    client = ScramClient("SCRAM-SHA-256", "ghost", "pw")
    first = srv.evaluate(client.first())  # answered as for a real user
    assert first.startswith(b"r=")
    with pytest.raises(ScramError):
        srv.evaluate(client.final(first))
