"""Sample bodies generated from the declarations, and a slow reference encoder.

``sample(message, version, nulls)`` fills every field present in ``version`` with a value that
differs from its default (so tagged fields are written), or with None / empty where allowed
when ``nulls`` is set. ``expected(...)`` is what a decoder must return for it: the sample with
defaults filled in for the fields the version lacks. ``reference_encode`` walks the schema for
every value, the obvious way; the generated encoders must produce the same bytes.
"""

from __future__ import annotations

import struct

from hpbroker.protocol.schema import FIXED_FORMATS, Field, Message

_INT_RANGES = {
    "int8": 100,
    "int16": 30000,
    "uint16": 60000,
    "int32": 2_000_000_000,
    "uint32": 4_000_000_000,
    "int64": 2**62,
}


def _scalar(ftype: str, seed: int):
    if ftype == "bool":
        return True
    if ftype == "float64":
        return 1.5 + seed
    if ftype == "uuid":
        return bytes((seed + i) % 256 for i in range(16))
    if ftype == "string":
        return f"s{seed}-é"
    if ftype in ("bytes", "records"):
        return bytes(range(seed % 7, seed % 7 + 5))
    return (seed * 7919 + 3) % _INT_RANGES[ftype]


def sample(fields, version: int, nulls: bool, seed: int = 1) -> dict:
    out = {}
    for i, f in enumerate(fields):
        if not f.present_in(version):
            continue
        s = seed * 31 + i
        if nulls and f.nullable_in(version):
            out[f.name] = None
        elif f.is_array:
            if nulls:
                out[f.name] = []
            elif f.fields:
                out[f.name] = [sample(f.fields, version, nulls, s + k) for k in range(2)]
            else:
                out[f.name] = [_scalar(f.element_type, s + k) for k in range(3)]
        elif f.is_struct:
            out[f.name] = sample(f.fields, version, nulls, s)
        else:
            out[f.name] = _scalar(f.type, s)
    return out


def expected(fields, version: int, value: dict) -> dict:
    out = {}
    for f in fields:
        if not f.present_in(version):
            out[f.name] = f.default_value()
            continue
        v = value.get(f.name, f.default_value())
        if v is not None and f.is_array and f.fields:
            v = [expected(f.fields, version, e) for e in v]
        elif v is not None and f.is_struct:
            v = expected(f.fields, version, v)
        out[f.name] = v
    return out


# ------------------------------------------------------------------ reference encoder


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def _length(n, flexible, width):
    """Length/count prefix; n=None means null."""
    if flexible:
        return _uvarint(0 if n is None else n + 1)
    return struct.pack(">" + width, -1 if n is None else n)


def _value(f: Field, v, version, flexible) -> bytes:
    t = f.type
    if t in FIXED_FORMATS:
        return struct.pack(">" + FIXED_FORMATS[t], v)
    if t == "string":
        raw = None if v is None else v.encode()
        return _length(None if raw is None else len(raw), flexible, "h") + (raw or b"")
    if t in ("bytes", "records"):
        return _length(None if v is None else len(v), flexible, "i") + bytes(v or b"")
    if f.is_struct:
        if f.nullable_in(version):
            return b"\xff" if v is None else b"\x01" + _struct(f.fields, v, version, flexible)
        return _struct(f.fields, v, version, flexible)
    if f.is_array:
        out = _length(None if v is None else len(v), flexible, "i")
        for e in v or ():
            if f.fields:
                out += _struct(f.fields, e, version, flexible)
            else:
                out += _value(Field("e", f.element_type, "0+"), e, version, flexible)
        return out
    raise AssertionError(t)


def _struct(fields, value, version, flexible) -> bytes:
    out = b""
    tagged = []
    for f in fields:
        if not f.present_in(version):
            continue
        v = value.get(f.name, f.default_value())
        if f.tagged_in(version):
            if v != f.default_value():
                tagged.append((f.tag, _value(f, v, version, flexible)))
            continue
        out += _value(f, v, version, flexible)
    if flexible:
        out += _uvarint(len(tagged))
        for tag, data in sorted(tagged):
            out += _uvarint(tag) + _uvarint(len(data)) + data
    return out


def reference_encode(message: Message, version: int, value: dict) -> bytes:
    return _struct(message.fields, value, version, message.is_flexible(version))
