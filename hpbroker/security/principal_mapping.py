"""The principal of a client certificate, as Kafka's DefaultKafkaPrincipalBuilder and
SslPrincipalMapper make it.

The subject's distinguished name is written as Java's X500Principal.getName() writes it (RFC
2253: the RDNs last to first, ``CN=alice,OU=eng,O=Example,C=US``, special characters escaped),
then ``ssl.principal.mapping.rules`` apply, first match wins:

    RULE:pattern/replacement/[L|U]     pattern must match the whole DN; $1... in the replacement;
                                       L / U: lower / upper case the result
    DEFAULT                            the DN as it is

A DN no rule matches cannot be mapped: the connection is refused (Kafka's NoMatchingRule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hpbroker.configdef.types import ConfigError

# the attribute names X500Principal.getName(RFC2253) writes as keywords; other attributes are
# written here by the short names OpenSSL gives them
_KEYWORDS = {
    "commonName": "CN",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
    "emailAddress": "EMAILADDRESS",
}

_RULE = r"(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?).*?|(.*?)"
_SPLITTER = re.compile(r"\s*(" + _RULE + r")\s*(?:,\s*|$)")
_PARSER = re.compile(_RULE)


def _escape(value: str) -> str:
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;' or (ch == "#" and i == 0) or (ch == " " and (i == 0 or i == len(value) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def distinguished_name(subject) -> str:
    """``ssl.SSLSocket.getpeercert()['subject']`` (RDNs first to last, each a tuple of
    (attribute, value)) as RFC 2253 text."""
    rdns = []
    for rdn in reversed(subject):
        rdns.append("+".join(f"{_KEYWORDS.get(k, k)}={_escape(v)}" for k, v in rdn))
    return ",".join(rdns)


@dataclass(frozen=True)
class Rule:
    default: bool
    pattern: re.Pattern | None = None
    replacement: str = ""
    case: str = ""

    def apply(self, dn: str) -> str | None:
        if self.default:
            return dn
        m = self.pattern.fullmatch(dn)
        if m is None:
            return None
        out = m.expand(self.replacement)
        return out.lower() if self.case == "L" else out.upper() if self.case == "U" else out


def parse_rules(value: str | list) -> list[Rule]:
    """``ssl.principal.mapping.rules`` (a string of comma-separated rules, or a list)."""
    text = ",".join(value) if isinstance(value, list) else str(value or "DEFAULT")
    rules = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _SPLITTER.match(text, pos)
        if m is None or m.end() == pos:
            raise ConfigError(f"Invalid rule: {text[pos:]}")
        pos = m.end()
        rule = m.group(1)
        p = _PARSER.fullmatch(rule)
        if p is None or p.group(5):
            raise ConfigError(f"Invalid rule: {rule}")
        if p.group(1):
            rules.append(Rule(True))
        else:
            replacement = re.sub(r"\$(\d)", r"\\\1", p.group(3).replace("\\/", "/"))
            try:
                rules.append(Rule(False, re.compile(p.group(2).replace("\\/", "/")), replacement, p.group(4)))
            except re.error as exc:
                raise ConfigError(f"Invalid rule: {rule}: {exc}") from None
    return rules or [Rule(True)]


class NoMatchingRule(Exception):
    pass


def principal_name(dn: str, rules: list[Rule]) -> str:
    for rule in rules:
        name = rule.apply(dn)
        if name is not None:
            return name
    raise NoMatchingRule(f"No rules apply to {dn}, rules {rules}")
