"""Compile message declarations (schema.py) into flat encode/decode functions per version.

Theory of operation: interpreting a schema for every request would walk the declaration tree
per field per call. Instead, for each (message, version) we generate the Python source of one
decoder and one encoder with every version test already resolved, nested arrays unrolled into
plain loops, and runs of fixed-width fields merged into a single ``struct`` call; the source is
compiled once with ``exec`` (as kafka-python does) and cached. The generated code calls the
primitive readers (Cython or their pure twin, see primitives.py) for strings, bytes, varints
and counts, which check every length against the bytes that remain.

Generated decoder: ``decode(buf: memoryview, pos: int) -> (dict, pos)``.
Generated encoder: ``encode(value: dict, out: list) -> None``; appends ``bytes`` chunks (and,
as they were given, the ``memoryview`` and ``ExternalBytes`` values of bytes/records fields) to
``out``.
``source(message, version, kind)`` returns the generated text, for reading and debugging.
"""

from __future__ import annotations

import struct

from hpbroker.protocol.errors import ProtocolError
from hpbroker.protocol.primitives import prim
from hpbroker.protocol.schema import FIXED_FORMATS, Field, Message

_FIXED_SIZES = {t: struct.calcsize(">" + f) for t, f in FIXED_FORMATS.items()}


class ExternalBytes:
    """Record bytes that are not in memory (a file region to be sent with os.sendfile).

    Subclass it (or use it directly) with an integer ``size``; the encoder writes the length
    prefix and leaves the object in the chunk list returned by ``encode_response_parts``.
    """

    __slots__ = ("size", "source")

    def __init__(self, size: int, source=None):
        self.size = size
        self.source = source

    def __repr__(self) -> str:
        return f"ExternalBytes(size={self.size}, source={self.source!r})"


def _write_bytes(out, value, compact, nullable):
    """bytes/records field: length prefix + data. ExternalBytes and memoryviews stay chunks
    of their own: a memoryview (a decoded request's record batch, a slice of the connection's
    buffer) is not copied here, so ``encode_request_parts`` can hand it on to be gathered."""
    if value is None:
        if not nullable:
            raise ValueError("non-nullable bytes field is None")
        out.append(b"\x00" if compact else b"\xff\xff\xff\xff")
        return
    size = value.size if isinstance(value, ExternalBytes) else len(value)
    out.append(prim.write_uvarint(size + 1) if compact else _I32.pack(size))
    if isinstance(value, ExternalBytes):
        out.append(value)
    else:
        out.append(value if type(value) is bytes or type(value) is memoryview else bytes(value))


_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")


def _string(value, compact, nullable):
    if value is None:
        if not nullable:
            raise ValueError("non-nullable string field is None")
        return b"\x00" if compact else b"\xff\xff"
    raw = value.encode("utf-8")
    if compact:
        return prim.write_uvarint(len(raw) + 1) + raw
    return _I16.pack(len(raw)) + raw


def _count(value, compact, nullable):
    if value is None:
        if not nullable:
            raise ValueError("non-nullable array field is None")
        return b"\x00" if compact else b"\xff\xff\xff\xff"
    return prim.write_uvarint(len(value) + 1) if compact else _I32.pack(len(value))


def _null_value(value):
    raise ProtocolError("null where the schema does not allow it")


_NAMESPACE = {
    "prim": prim,
    "struct": struct,
    "ProtocolError": ProtocolError,
    "_write_bytes": _write_bytes,
    "_string": _string,
    "_count": _count,
    "_null": _null_value,
    "read_string": prim.read_string,
    "read_compact_string": prim.read_compact_string,
    "read_bytes": prim.read_bytes,
    "read_compact_bytes": prim.read_compact_bytes,
    "read_count": prim.read_count,
    "read_compact_count": prim.read_compact_count,
    "read_uvarint": prim.read_uvarint,
    "skip_tagged_fields": prim.skip_tagged_fields,
    "write_uvarint": prim.write_uvarint,
}


class _Gen:
    """Accumulates generated lines and struct constants for one function."""

    def __init__(self):
        self.lines: list[str] = []
        self.consts: dict[str, object] = {}
        self.n = 0

    def var(self, prefix="v"):
        self.n += 1
        return f"{prefix}{self.n}"

    def emit(self, indent, line):
        self.lines.append("    " * indent + line)

    def struct_const(self, fmt):
        name = f"_S_{len(self.consts)}"
        self.consts[name] = struct.Struct(">" + fmt)
        return name

    def const(self, value):
        name = f"_C_{len(self.consts)}"
        self.consts[name] = value
        return name


def _regular(fields, version):
    return [f for f in fields if f.present_in(version) and not f.tagged_in(version)]


def _tagged(fields, version):
    return sorted((f for f in fields if f.tagged_in(version)), key=lambda f: f.tag)


def _is_fixed(f: Field):
    return f.type in FIXED_FORMATS


def _min_size(f: Field, version, flexible) -> int:
    """Smallest encoding of a field: bounds an array count before allocating."""
    if _is_fixed(f):
        return _FIXED_SIZES[f.type]
    if f.is_struct:
        body = sum(_min_size(s, version, flexible) for s in _regular(f.fields, version))
        return body + (1 if flexible else 0)
    return 1 if flexible else (2 if f.type == "string" else 4)


def _element_min_size(f: Field, version, flexible) -> int:
    et = f.element_type
    if f.fields:
        body = sum(_min_size(s, version, flexible) for s in _regular(f.fields, version))
        return max(1, body + (1 if flexible else 0))
    if et in _FIXED_SIZES:
        return _FIXED_SIZES[et]
    return 1 if flexible else (2 if et == "string" else 4)


def _default_expr(f: Field, version) -> str:
    """Source of a fresh default value for a field absent from ``version``."""
    if f.default is None:
        return "None"
    if f.is_array:
        return "[]"
    if f.is_struct:
        items = ", ".join(f"{s.name!r}: {_default_expr(s, version)}" for s in f.fields)
        return "{" + items + "}"
    return repr(f.default)


# ----------------------------------------------------------------------------- decoding


def _gen_decode_struct(g: _Gen, fields, version, flexible, indent) -> str:
    """Emit code decoding a struct at ``pos``; returns the name of the variable holding it."""
    values: dict[str, str] = {}
    regular = _regular(fields, version)
    i = 0
    while i < len(regular):
        f = regular[i]
        if _is_fixed(f):
            run = [f]
            while i + len(run) < len(regular) and _is_fixed(regular[i + len(run)]):
                run.append(regular[i + len(run)])
            fmt = "".join(FIXED_FORMATS[r.type] for r in run)
            s = g.struct_const(fmt)
            names = [g.var() for _ in run]
            g.emit(indent, f"{', '.join(names)}, = {s}.unpack_from(buf, pos)")
            g.emit(indent, f"pos += {struct.calcsize('>' + fmt)}")
            for r, n in zip(run, names):
                values[r.name] = n
            i += len(run)
            continue
        values[f.name] = _gen_decode_value(g, f, version, flexible, indent)
        i += 1
    tagged = _tagged(fields, version)
    if flexible and not tagged:
        g.emit(indent, "pos = skip_tagged_fields(buf, pos)")
    elif flexible:
        for f in tagged:
            v = g.var()
            g.emit(indent, f"{v} = {_default_expr(f, version)}")
            values[f.name] = v
        nt, tag, size, tend = g.var("nt"), g.var("tag"), g.var("sz"), g.var("te")
        g.emit(indent, f"{nt}, pos = read_uvarint(buf, pos)")
        g.emit(indent, f"for _ in range({nt}):")
        g.emit(indent + 1, f"{tag}, pos = read_uvarint(buf, pos)")
        g.emit(indent + 1, f"{size}, pos = read_uvarint(buf, pos)")
        g.emit(indent + 1, f"{tend} = pos + {size}")
        g.emit(indent + 1, f"if {tend} > len(buf): raise ProtocolError('tagged field exceeds the frame')")
        kw = "if"
        for f in tagged:
            g.emit(indent + 1, f"{kw} {tag} == {f.tag}:")
            got = _gen_decode_value(g, f, version, flexible, indent + 2)
            g.emit(indent + 2, f"{values[f.name]} = {got}")
            g.emit(indent + 2, f"if pos != {tend}: raise ProtocolError('tagged field size mismatch')")
            kw = "elif"
        g.emit(indent + 1, f"pos = {tend}")
    d = g.var("d")
    items = []
    for f in fields:
        if f.name in values:
            items.append(f"{f.name!r}: {values[f.name]}")
        else:
            items.append(f"{f.name!r}: {_default_expr(f, version)}")
    g.emit(indent, f"{d} = {{{', '.join(items)}}}")
    return d


def _gen_decode_value(g: _Gen, f: Field, version, flexible, indent) -> str:
    v = g.var()
    nullable = f.nullable_in(version)
    c = "compact_" if flexible else ""
    t = f.type
    if _is_fixed(f):
        s = g.struct_const(FIXED_FORMATS[t])
        g.emit(indent, f"{v}, = {s}.unpack_from(buf, pos)")
        g.emit(indent, f"pos += {_FIXED_SIZES[t]}")
    elif t == "string":
        g.emit(indent, f"{v}, pos = read_{c}string(buf, pos)")
        if not nullable:
            g.emit(indent, f"if {v} is None: _null({v})")
    elif t in ("bytes", "records"):
        g.emit(indent, f"{v}, pos = read_{c}bytes(buf, pos)")
        if not nullable:
            g.emit(indent, f"if {v} is None: _null({v})")
    elif f.is_struct:
        if nullable:
            m = g.var()
            g.emit(indent, f"{m}, = _I8.unpack_from(buf, pos)")
            g.emit(indent, "pos += 1")
            g.emit(indent, f"if {m} < 0:")
            g.emit(indent + 1, f"{v} = None")
            g.emit(indent, "else:")
            inner = _gen_decode_struct(g, f.fields, version, flexible, indent + 1)
            g.emit(indent + 1, f"{v} = {inner}")
        else:
            inner = _gen_decode_struct(g, f.fields, version, flexible, indent)
            g.emit(indent, f"{v} = {inner}")
    elif f.is_array:
        n = g.var("n")
        et = f.element_type
        g.emit(indent, f"{n}, pos = read_{c}count(buf, pos, {_element_min_size(f, version, flexible)})")
        g.emit(indent, f"if {n} < 0:")
        g.emit(indent + 1, f"{v} = None" if nullable else f"{v} = _null({n})")
        g.emit(indent, "else:")
        if f.fields:
            g.emit(indent + 1, f"{v} = []")
            g.emit(indent + 1, f"for _ in range({n}):")
            inner = _gen_decode_struct(g, f.fields, version, flexible, indent + 2)
            g.emit(indent + 2, f"{v}.append({inner})")
        elif et in FIXED_FORMATS:
            fmt, size = FIXED_FORMATS[et], _FIXED_SIZES[et]
            g.emit(indent + 1, f"{v} = list(struct.unpack_from('>%d{fmt}' % {n}, buf, pos))")
            g.emit(indent + 1, f"pos += {n} * {size}")
        elif et == "string":
            g.emit(indent + 1, f"{v} = []")
            e = g.var()
            g.emit(indent + 1, f"for _ in range({n}):")
            g.emit(indent + 2, f"{e}, pos = read_{c}string(buf, pos)")
            g.emit(indent + 2, f"if {e} is None: _null({e})")
            g.emit(indent + 2, f"{v}.append({e})")
        else:
            raise NotImplementedError(f"array of {et}")
    else:
        raise NotImplementedError(f"type {t} of {f.name}")
    return v


# ----------------------------------------------------------------------------- encoding


def _gen_encode_struct(g: _Gen, fields, version, flexible, src, indent, out="out"):
    regular = _regular(fields, version)
    i = 0
    while i < len(regular):
        f = regular[i]
        if _is_fixed(f):
            run = [f]
            while i + len(run) < len(regular) and _is_fixed(regular[i + len(run)]):
                run.append(regular[i + len(run)])
            s = g.struct_const("".join(FIXED_FORMATS[r.type] for r in run))
            args = ", ".join(f"{src}.get({r.name!r}, {r.default!r})" for r in run)
            g.emit(indent, f"{out}.append({s}.pack({args}))")
            i += len(run)
            continue
        v = g.var()
        g.emit(indent, f"{v} = {src}.get({f.name!r}, {_default_expr(f, version)})")
        _gen_encode_value(g, f, version, flexible, v, indent, out)
        i += 1
    if not flexible:
        return
    tagged = _tagged(fields, version)
    if not tagged:
        g.emit(indent, f"{out}.append(b'\\x00')")
        return
    tl = g.var("tl")
    g.emit(indent, f"{tl} = []")
    for f in tagged:
        v, sub = g.var(), g.var("sub")
        g.emit(indent, f"{v} = {src}.get({f.name!r}, {_default_expr(f, version)})")
        g.emit(indent, f"if {v} != {_default_expr(f, version)}:")
        g.emit(indent + 1, f"{sub} = []")
        _gen_encode_value(g, f, version, flexible, v, indent + 1, sub)
        g.emit(indent + 1, f"{sub} = b''.join({sub})")
        g.emit(indent + 1, f"{tl}.append(write_uvarint({f.tag}) + write_uvarint(len({sub})) + {sub})")
    g.emit(indent, f"{out}.append(write_uvarint(len({tl})))")
    g.emit(indent, f"{out}.extend({tl})")


def _gen_encode_value(g: _Gen, f: Field, version, flexible, v, indent, out):
    nullable = f.nullable_in(version)
    t = f.type
    if _is_fixed(f):
        s = g.struct_const(FIXED_FORMATS[t])
        g.emit(indent, f"{out}.append({s}.pack({v}))")
    elif t == "string":
        g.emit(indent, f"{out}.append(_string({v}, {flexible}, {nullable}))")
    elif t in ("bytes", "records"):
        g.emit(indent, f"_write_bytes({out}, {v}, {flexible}, {nullable})")
    elif f.is_struct:
        if nullable:
            g.emit(indent, f"if {v} is None:")
            g.emit(indent + 1, f"{out}.append(b'\\xff')")
            g.emit(indent, "else:")
            g.emit(indent + 1, f"{out}.append(b'\\x01')")
            _gen_encode_struct(g, f.fields, version, flexible, v, indent + 1, out)
        else:
            _gen_encode_struct(g, f.fields, version, flexible, v, indent, out)
    elif f.is_array:
        et = f.element_type
        g.emit(indent, f"{out}.append(_count({v}, {flexible}, {nullable}))")
        g.emit(indent, f"if {v}:")
        if f.fields:
            e = g.var("e")
            g.emit(indent + 1, f"for {e} in {v}:")
            _gen_encode_struct(g, f.fields, version, flexible, e, indent + 2, out)
        elif et in FIXED_FORMATS:
            g.emit(indent + 1, f"{out}.append(struct.pack('>%d{FIXED_FORMATS[et]}' % len({v}), *{v}))")
        elif et == "string":
            e = g.var("e")
            g.emit(indent + 1, f"for {e} in {v}:")
            g.emit(indent + 2, f"{out}.append(_string({e}, {flexible}, False))")
        else:
            raise NotImplementedError(f"array of {et}")
    else:
        raise NotImplementedError(f"type {t} of {f.name}")


# ----------------------------------------------------------------------------- compile


def source(message: Message, version: int, kind: str) -> tuple[str, dict]:
    """Generated source and constants of the ``kind`` ("decode"/"encode") function."""
    g = _Gen()
    flexible = message.is_flexible(version)
    if kind == "decode":
        d = _gen_decode_struct(g, message.fields, version, flexible, 1)
        g.emit(1, f"return {d}, pos")
        head = "def decode(buf, pos):"
    else:
        _gen_encode_struct(g, message.fields, version, flexible, "value", 1)
        g.emit(1, "return None")  # an empty body (e.g. ListGroups v0) still needs a statement
        head = "def encode(value, out):"
    return "\n".join([head] + g.lines) + "\n", g.consts


_CACHE: dict[tuple[str, int, str], object] = {}


def build(message: Message, version: int, kind: str, primitives=None):
    """Compile the generated function; ``primitives`` overrides the primitive codec (the
    benchmarks compare the Cython and pure twins in one run)."""
    text, consts = source(message, version, kind)
    ns = dict(_NAMESPACE)
    if primitives is not None:
        ns.update(
            {
                k: getattr(primitives, v.__name__)
                for k, v in _NAMESPACE.items()
                if callable(v) and getattr(primitives, getattr(v, "__name__", ""), None)
            }
        )
        ns["prim"] = primitives
    ns.update(consts)
    ns["_I8"] = struct.Struct(">b")
    code = compile(text, f"<hpbroker.protocol {message.name} v{version} {kind}>", "exec")
    exec(code, ns)
    return ns[kind]


def compiled(message: Message, version: int, kind: str):
    """The generated function for (message, version, kind), compiled on first use."""
    key = (message.name, version, kind)
    fn = _CACHE.get(key)
    if fn is None:
        fn = _CACHE[key] = build(message, version, kind)
    return fn
