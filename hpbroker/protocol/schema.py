"""Kafka message declarations as data: one ``Message`` per request or response, every version.

A declaration mirrors Kafka's JSON (clients/src/main/resources/common/message/*.json): each
``Field`` says in which versions it exists, in which it may be null, whether it is a tagged
field (and its tag), its default and, for structs and arrays of structs, its sub-fields.
Version ranges keep Kafka's spelling ("0+", "3-5", "none") so a declaration reads like the
JSON it was transcribed from. Nothing here encodes or decodes; codegen.py compiles these
declarations into flat functions, one per (message, version).
"""

from __future__ import annotations

NO_VERSIONS = (0, -1)
MAX_VERSION = 0x7FFF

#: fixed-width types -> struct format character(s) (big-endian)
FIXED_FORMATS = {
    "bool": "?",
    "int8": "b",
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "float64": "d",
    "uuid": "16s",
}
#: types whose length prefix counts bytes (int16/int32 or compact uvarint)
VARIABLE_TYPES = ("string", "bytes", "records")

ZERO_UUID = bytes(16)


def parse_versions(spec: str | None) -> tuple[int, int]:
    """Kafka's version range spelling -> inclusive (low, high); "none"/None -> empty."""
    if spec is None or spec == "none":
        return NO_VERSIONS
    if spec.endswith("+"):
        return int(spec[:-1]), MAX_VERSION
    if "-" in spec:
        lo, hi = spec.split("-")
        return int(lo), int(hi)
    return int(spec), int(spec)


def in_range(rng: tuple[int, int], version: int) -> bool:
    return rng[0] <= version <= rng[1]


_UNSET = object()


class Field:
    """One field of a message or struct. ``fields`` is set for structs and arrays of structs."""

    __slots__ = (
        "name",
        "type",
        "versions",
        "nullable",
        "tag",
        "tagged",
        "default",
        "fields",
        "spec_versions",
        "spec_nullable",
        "spec_tagged",
    )

    def __init__(self, name, type, versions, nullable=None, tag=None, tagged=None, default=_UNSET, fields=()):
        self.name = name
        self.type = type
        self.spec_versions, self.spec_nullable, self.spec_tagged = versions, nullable, tagged
        self.versions = parse_versions(versions)
        self.nullable = parse_versions(nullable)
        self.tag = tag
        self.tagged = parse_versions(tagged) if tag is not None else NO_VERSIONS
        self.fields = tuple(fields)
        self.default = _type_default(type) if default is _UNSET else default

    @property
    def is_array(self) -> bool:
        return self.type.startswith("[]")

    @property
    def element_type(self) -> str:
        return self.type[2:]

    @property
    def is_struct(self) -> bool:
        return bool(self.fields) and not self.is_array

    def present_in(self, version: int) -> bool:
        return in_range(self.versions, version)

    def nullable_in(self, version: int) -> bool:
        return in_range(self.nullable, version)

    def tagged_in(self, version: int) -> bool:
        return self.tag is not None and in_range(self.tagged, version)

    def default_value(self):
        """A fresh default (lists and dicts are never shared between messages)."""
        if self.default is None:
            return None
        if self.is_array:
            return []
        if self.is_struct:
            return {f.name: f.default_value() for f in self.fields}
        return self.default

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.type!r}, {self.spec_versions!r})"


def _type_default(ftype: str):
    if ftype.startswith("[]"):
        return ()
    if ftype in ("bool",):
        return False
    if ftype in FIXED_FORMATS and ftype != "uuid":
        return 0.0 if ftype == "float64" else 0
    if ftype == "uuid":
        return ZERO_UUID
    if ftype == "string":
        return ""
    if ftype == "bytes":
        return b""
    if ftype == "records":
        return None
    return {}  # a struct: the codec builds a fresh dict of sub-field defaults


class Message:
    """A request or response body declaration covering all of Kafka's valid versions."""

    __slots__ = ("name", "api_key", "valid", "flexible", "fields", "spec_valid", "spec_flexible")

    def __init__(self, name, api_key, valid, flexible, fields):
        self.name = name
        self.api_key = api_key
        self.spec_valid, self.spec_flexible = valid, flexible
        self.valid = parse_versions(valid)
        self.flexible = parse_versions(flexible)
        self.fields = tuple(fields)

    def is_flexible(self, version: int) -> bool:
        return in_range(self.flexible, version)

    def __repr__(self) -> str:
        return f"Message({self.name!r}, valid={self.spec_valid!r})"
