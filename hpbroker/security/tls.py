"""TLS contexts from Kafka's ``ssl.*`` properties (each may be set per listener,
``listener.name.<listener>.ssl.*``), with the standard library's ssl module.

Key and trust stores are PEM (Kafka's ``ssl.keystore.type=PEM``): ``ssl.keystore.location`` is
a PEM file holding the private key and the certificate chain (``ssl.key.password`` decrypts an
encrypted key), or ``ssl.keystore.key`` and ``ssl.keystore.certificate.chain`` hold them inline;
``ssl.truststore.location`` is a PEM file of trusted certificates, or
``ssl.truststore.certificates`` holds them inline. JKS and PKCS12 stores are refused at start-up
with a message saying so.

- ``ssl.client.auth``: none / requested (a certificate is asked for, verified if given) /
  required. On a SASL_SSL listener only the listener-prefixed value counts (Kafka, KIP-684).
- ``ssl.enabled.protocols``: the lowest and highest named version bound the handshake.
- ``ssl.cipher.suites``: Kafka's (IANA) names; TLS 1.2 suites are translated to OpenSSL's names,
  and a list naming no TLS 1.3 suite keeps connections to TLS 1.2, as it does in Kafka (Python
  cannot restrict the TLS 1.3 suites themselves).
- ``ssl.endpoint.identification.algorithm`` (``https``, the default, or empty): whether a client
  context checks the server's host name against its certificate (the broker's own connections
  to other brokers).
"""

from __future__ import annotations

import os
import ssl
import tempfile

from hpbroker.configdef.types import ConfigError, split_list
from hpbroker.security.principal_mapping import Rule, distinguished_name, parse_rules, principal_name

_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {"none": ssl.CERT_NONE, "requested": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_TLS13_SUITES = frozenset({"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"})


def _value(config, prefix: str | None, name: str):
    """``<prefix><name>`` if set, else ``name`` (parsed by ``name``'s definition)."""
    from hpbroker.configdef import BROKER_CONFIGS

    if prefix:
        v = config.value(prefix + name)
        if v is not None:
            d = BROKER_CONFIGS.get(name)
            return d.parse(v) if d is not None else v
    return config.get(name)


def openssl_cipher_name(name: str) -> str:
    """Kafka's (IANA) name of a TLS 1.2 cipher suite as OpenSSL names it:
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 -> ECDHE-RSA-AES128-GCM-SHA256. A name that is not in
    the IANA form is taken as OpenSSL's already."""
    if not name.startswith("TLS_") or "_WITH_" not in name:
        return name
    kx, cipher = name[4:].split("_WITH_", 1)
    kx = {"RSA": ""}.get(kx, kx.replace("_", "-"))
    parts = cipher.split("_")
    if parts[0] == "AES":  # AES_128_GCM_SHA256 -> AES128-GCM-SHA256, AES_128_CBC_SHA -> AES128-SHA
        bits, mode, mac = parts[1], parts[2], parts[3] if len(parts) > 3 else ""
        body = f"AES{bits}-GCM-{mac}" if mode == "GCM" else f"AES{bits}-{mac}"
    elif parts[:2] == ["CHACHA20", "POLY1305"]:
        body = "CHACHA20-POLY1305"
    else:
        body = "-".join(parts)
    return f"{kx}-{body}" if kx else body


def _protocols(context: ssl.SSLContext, enabled: list[str]) -> None:
    versions = []
    for name in enabled:
        v = _VERSIONS.get(name.strip())
        if v is None:
            raise ConfigError(f"ssl.enabled.protocols: unknown protocol {name} (TLSv1.2 and TLSv1.3 are usual)")
        versions.append(v)
    if versions:
        context.minimum_version = min(versions)
        context.maximum_version = max(versions)


def _ciphers(context: ssl.SSLContext, suites: list[str]) -> None:
    if not suites:
        return
    tls12 = [openssl_cipher_name(s) for s in suites if s not in _TLS13_SUITES]
    if tls12:
        try:
            context.set_ciphers(":".join(tls12))
        except ssl.SSLError:
            raise ConfigError(f"ssl.cipher.suites: none of {', '.join(suites)} is a cipher suite OpenSSL has") from None
    if not any(s in _TLS13_SUITES for s in suites):
        context.maximum_version = min(context.maximum_version, ssl.TLSVersion.TLSv1_2)


def _load_keystore(context: ssl.SSLContext, config, prefix: str | None, required: bool) -> None:
    store_type = str(_value(config, prefix, "ssl.keystore.type")).upper()
    location = _value(config, prefix, "ssl.keystore.location")
    key = _value(config, prefix, "ssl.keystore.key")
    chain = _value(config, prefix, "ssl.keystore.certificate.chain")
    password = _value(config, prefix, "ssl.key.password")
    if location is None and key is None:
        if required:
            raise ConfigError(
                f"{prefix or ''}ssl.keystore.location (or ssl.keystore.key and ssl.keystore.certificate.chain) "
                "must be set for a TLS listener"
            )
        return
    if store_type != "PEM":
        raise ConfigError(f"ssl.keystore.type {store_type}: hpbroker reads PEM key stores only (ssl.keystore.type=PEM)")
    if location is not None:
        try:
            context.load_cert_chain(location, password=password)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the key store {location}: {exc}") from None
        return
    if chain is None:
        raise ConfigError("ssl.keystore.key needs ssl.keystore.certificate.chain")
    # load_cert_chain reads files: the inline PEM goes through a private temporary file
    fd, path = tempfile.mkstemp(prefix="hpbroker-keystore-", suffix=".pem")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"{key.strip()}\n{chain.strip()}\n")
        context.load_cert_chain(path, password=password)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load ssl.keystore.key / ssl.keystore.certificate.chain: {exc}") from None
    finally:
        os.unlink(path)


def _load_truststore(context: ssl.SSLContext, config, prefix: str | None) -> bool:
    store_type = str(_value(config, prefix, "ssl.truststore.type")).upper()
    location = _value(config, prefix, "ssl.truststore.location")
    certificates = _value(config, prefix, "ssl.truststore.certificates")
    if location is None and certificates is None:
        return False
    if store_type != "PEM":
        raise ConfigError(
            f"ssl.truststore.type {store_type}: hpbroker reads PEM trust stores only (ssl.truststore.type=PEM)"
        )
    try:
        if location is not None:
            context.load_verify_locations(cafile=location)
        else:
            context.load_verify_locations(cadata=certificates)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the trust store {location or 'ssl.truststore.certificates'}: {exc}") from None
    return True


def server_context(config, listener) -> ssl.SSLContext:
    """The TLS context of ``listener`` (a server/listeners.Listener of protocol SSL or
    SASL_SSL); ConfigError says what is missing or wrong."""
    prefix = listener.prefix if listener is not None else None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.options |= ssl.OP_NO_COMPRESSION
    _load_keystore(context, config, prefix, required=True)
    if listener is not None and listener.sasl:
        prefixed = config.value(listener.prefix + "ssl.client.auth")
        client_auth = (prefixed or "none").strip().lower()
    else:
        client_auth = str(_value(config, prefix, "ssl.client.auth")).strip().lower()
    trusted = _load_truststore(context, config, prefix)
    if client_auth != "none" and not trusted:
        context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    context.verify_mode = _CLIENT_AUTH[client_auth]
    _protocols(context, split_list(_value(config, prefix, "ssl.enabled.protocols") or ""))
    _ciphers(context, split_list(_value(config, prefix, "ssl.cipher.suites") or ""))
    return context


def client_context(config, listener=None) -> ssl.SSLContext:
    """A TLS client context from the same properties: the trust store to verify the server, the
    key store (if any) as this side's certificate, and ``ssl.endpoint.identification.algorithm``.
    The broker's own connections to other brokers (inter-broker listener) and the tools use it."""
    prefix = listener.prefix if listener is not None else None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not _load_truststore(context, config, prefix):
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    _load_keystore(context, config, prefix, required=False)
    algorithm = _value(config, prefix, "ssl.endpoint.identification.algorithm")
    context.check_hostname = bool(algorithm and str(algorithm).strip().lower() == "https")
    _protocols(context, split_list(_value(config, prefix, "ssl.enabled.protocols") or ""))
    _ciphers(context, split_list(_value(config, prefix, "ssl.cipher.suites") or ""))
    return context


def mapping_rules(config, listener) -> list[Rule]:
    prefix = listener.prefix if listener is not None else None
    return parse_rules(_value(config, prefix, "ssl.principal.mapping.rules"))


def certificate_principal(peer_cert: dict | None, rules: list[Rule]) -> str | None:
    """``User:<mapped DN>`` of a verified client certificate (``getpeercert()``), None without
    one; raises principal_mapping.NoMatchingRule when no rule maps its DN."""
    if not peer_cert or "subject" not in peer_cert:
        return None
    return "User:" + principal_name(distinguished_name(peer_cert["subject"]), rules)


def failure_reason(exc: Exception) -> str:
    """What a failed handshake says, for the log: the verification error when a certificate
    was refused (expired, untrusted, wrong host), else OpenSSL's reason."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate refused: {exc.verify_message}"
    reason = getattr(exc, "reason", None)
    return f"{reason} ({exc})" if reason else str(exc)
