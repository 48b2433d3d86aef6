"""Certificates the tests make for themselves (never committed keys): a CA, a broker
certificate for localhost / 127.0.0.1, client certificates (valid, expired, from another CA),
written as PEM files into a directory."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(**attrs) -> x509.Name:
    oids = {
        "CN": NameOID.COMMON_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "C": NameOID.COUNTRY_NAME,
    }
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attrs.items()])


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def _pem_cert(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Authority:
    key: object
    cert: object

    @classmethod
    def create(cls, name: str = "hpbroker test CA") -> Authority:
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = _name(CN=name, O="hpbroker tests")
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(self, subject: x509.Name, *, hosts=(), server=False, expired=False):
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        if expired:
            before, after = now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)
        else:
            before, after = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(before)
            .not_valid_after(after)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
        )
        if hosts:
            import ipaddress

            names = []
            for h in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(h)))
                except ValueError:
                    names.append(x509.DNSName(h))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())


@dataclass
class Certs:
    """Paths of the PEM files in ``directory``."""

    directory: str
    ca: str  # the CA certificate (trust store of clients and of the broker)
    broker: str  # broker key + certificate chain (ssl.keystore.location)
    broker_key: str
    broker_cert: str
    client_key: str  # client "CN=alice,OU=eng,O=hpbroker tests" signed by the CA
    client_cert: str
    client_pem: str  # key + certificate in one file
    expired_key: str
    expired_cert: str
    rogue_key: str  # signed by another CA the broker does not trust
    rogue_cert: str
    wrong_host: str  # broker key + certificate for another host name only


def make_certs(directory: str) -> Certs:
    os.makedirs(directory, exist_ok=True)

    def write(name: str, *parts: bytes) -> str:
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(b"".join(parts))
        return path

    ca = Authority.create()
    other = Authority.create("another CA")
    bkey, bcert = ca.issue(_name(CN="localhost", O="hpbroker tests"), hosts=("localhost", "127.0.0.1"), server=True)
    ckey, ccert = ca.issue(_name(CN="alice", OU="eng", O="hpbroker tests"))
    ekey, ecert = ca.issue(_name(CN="old", O="hpbroker tests"), expired=True)
    rkey, rcert = other.issue(_name(CN="mallory", O="elsewhere"))
    wkey, wcert = ca.issue(_name(CN="elsewhere.example"), hosts=("elsewhere.example",), server=True)
    return Certs(
        directory=directory,
        ca=write("ca.pem", _pem_cert(ca.cert)),
        broker=write("broker.pem", _pem_key(bkey), _pem_cert(bcert), _pem_cert(ca.cert)),
        broker_key=write("broker.key", _pem_key(bkey)),
        broker_cert=write("broker.crt", _pem_cert(bcert)),
        client_key=write("client.key", _pem_key(ckey)),
        client_cert=write("client.crt", _pem_cert(ccert)),
        client_pem=write("client.pem", _pem_key(ckey), _pem_cert(ccert)),
        expired_key=write("expired.key", _pem_key(ekey)),
        expired_cert=write("expired.crt", _pem_cert(ecert)),
        rogue_key=write("rogue.key", _pem_key(rkey)),
        rogue_cert=write("rogue.crt", _pem_cert(rcert)),
        wrong_host=write("wrong-host.pem", _pem_key(wkey), _pem_cert(wcert), _pem_cert(ca.cert)),
    )


def tls_broker_config(certs: Certs, client_auth: str = "none", **extra) -> dict:
    """A PLAINTEXT and an SSL listener on free ports, the SSL one with ``certs``."""
    config = {
        "listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": certs.broker,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": certs.ca,
        "ssl.client.auth": client_auth,
    }
    config.update(extra)
    return config
