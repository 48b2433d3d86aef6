"""Kafka's JAAS configuration text, as ``sasl.jaas.config`` takes it:

    org.apache.kafka.common.security.plain.PlainLoginModule required
        username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";

-> [(login module, control flag, {option: value})]. For PLAIN on a broker, ``user_<name>="<password>"``
options are the users it accepts; ``username``/``password`` are the broker's own credentials for
its connections to other brokers.
"""

from __future__ import annotations

import re

from hpbroker.configdef.types import ConfigError

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^\s=;"]+)|(=)|(;))')
FLAGS = ("required", "requisite", "sufficient", "optional")


def parse(text: str) -> list[tuple[str, str, dict[str, str]]]:
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConfigError(f"sasl.jaas.config: cannot parse near {text[pos : pos + 20]!r}")
        pos = m.end()
        if m.group(1) is not None:
            tokens.append(("str", re.sub(r"\\(.)", r"\1", m.group(1))))
        elif m.group(2) is not None:
            tokens.append(("word", m.group(2)))
        elif m.group(3):
            tokens.append(("=", "="))
        else:
            tokens.append((";", ";"))
    modules = []
    i = 0
    while i < len(tokens):
        if tokens[i][0] != "word" or i + 1 >= len(tokens) or tokens[i + 1][1].lower() not in FLAGS:
            raise ConfigError("sasl.jaas.config: expected '<LoginModule> <flag> option=\"value\" ... ;'")
        module, flag = tokens[i][1], tokens[i + 1][1].lower()
        i += 2
        options = {}
        while i < len(tokens) and tokens[i][0] != ";":
            if i + 2 >= len(tokens) or tokens[i + 1][0] != "=" or tokens[i][0] != "word":
                raise ConfigError(f"sasl.jaas.config: expected option=value in the options of {module}")
            options[tokens[i][1]] = tokens[i + 2][1]
            i += 3
        if i >= len(tokens):
            raise ConfigError(f"sasl.jaas.config: the entry of {module} does not end with ';'")
        i += 1
        modules.append((module, flag, options))
    if not modules:
        raise ConfigError("sasl.jaas.config names no login module")
    return modules


def options(text: str) -> dict[str, str]:
    """The options of the first login module."""
    return parse(text)[0][2]
