"""A Produce cut by owning handler, and the handlers' answers joined, on bytes.

A processor that gets a Produce naming partitions of several handlers sends each handler the
part of the request it owns, and joins their answers into one response in the request's order.
The generic path (server/multiproc/routing.py: decode into dicts, ``split_by_owner``, encode
each part; decode each answer, ``join_responses``, encode) costs several times more per request;
this module does the same by walking the bytes and gathering slices of them, for the versions
the broker serves (3-8, none flexible). ``routing.cut_by_owner`` chooses between the two.
Anything it does not expect (a length that does not add up, trailing bytes, a null array or
record set, a topic name that is not UTF-8) makes it answer None, and the caller takes the
generic path, which decodes everything and closes the connection if the request is broken.
tests/server/multiproc/test_produce_split.py checks both paths give the same bytes.

Byte layouts (big-endian; Kafka's ProduceRequest/ProduceResponse.json, versions 3-8)::

    request body   transactional_id i16-length nullable string | acks i16 | timeout_ms i32 |
                   topic_data i32 count, each:
                       name i16-length string | partition_data i32 count, each:
                           index i32 | records i32-length nullable bytes
    response body  responses i32 count, each:
                       name i16-length string | partition_responses i32 count, each:
                           index i32 | error_code i16 | base_offset i64 |
                           log_append_time_ms i64 | log_start_offset i64 (v5+) |
                           record_errors i32 count (v8), each:
                               batch_index i32 | batch_index_error_message i16-length nullable string
                           error_message i16-length nullable string (v8)
                   throttle_time_ms i32

A response frame as a handler writes it: size i32 | correlation_id i32 | body (header v0).
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

VERSIONS = range(3, 9)

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I32x2 = struct.Struct(">ii")


class Layout(NamedTuple):
    prefix: memoryview  # transactional_id, acks, timeout_ms: the same in every part
    topics: list  # [(name, name field bytes incl. its length, [(index, partition entry bytes)])]


class Order(NamedTuple):
    """What joining the answers needs: the request's topics and partition indexes, in order
    (no views of the frame, whose buffer is reused while the answers are awaited)."""

    topics: tuple  # ((name, (index, ...)), ...)

    def as_request(self) -> dict:
        """The same, as ``routing.partition_order`` gives it (for the generic join)."""
        return {"topic_data": [{"name": n, "partition_data": [{"index": i} for i in ix]} for n, ix in self.topics]}


def scan(frame, offset: int) -> Layout | None:
    """The body of a Produce v3-8 request frame (``frame`` without its size prefix, the body at
    ``offset``) as slices of it; None if it is anything but a well-formed one."""
    try:
        end = len(frame)
        pos = offset
        n = _I16.unpack_from(frame, pos)[0]  # transactional_id
        if n < -1:
            return None
        pos += 2 + max(n, 0) + 2 + 4  # + acks, timeout_ms
        prefix = frame[offset:pos]
        count = _I32.unpack_from(frame, pos)[0]
        pos += 4
        if count < 0:
            return None
        topics = []
        for _ in range(count):
            n = _I16.unpack_from(frame, pos)[0]
            if n < 0 or pos + 2 + n > end:
                return None
            name_field = frame[pos : pos + 2 + n]
            name = str(frame[pos + 2 : pos + 2 + n], "utf-8")
            pos += 2 + n
            parts = _I32.unpack_from(frame, pos)[0]
            pos += 4
            if parts < 0:
                return None
            entries = []
            for _ in range(parts):
                index, size = _I32x2.unpack_from(frame, pos)
                if size < 0 or pos + 8 + size > end:
                    return None  # a null record set: the generic path answers it
                entries.append((index, frame[pos : pos + 8 + size]))
                pos += 8 + size
            topics.append((name, name_field, entries))
    except (struct.error, UnicodeDecodeError):
        return None
    return Layout(prefix, topics) if pos == end else None


def owners(layout: Layout, handlers: int) -> list[int]:
    """Distinct owning handlers, in first-seen order (as ``routing.owners_of``)."""
    seen: dict[int, None] = {}
    for _name, name_field, entries in layout.topics:
        start = _topic_hash(name_field)
        for index, _ in entries:
            seen.setdefault((start + index) % handlers, None)
    return list(seen)


def _topic_hash(name_field) -> int:
    # routing.owner is (crc32(topic) + partition) % handlers: the CRC once per topic here
    return zlib.crc32(name_field[2:])


def split(frame, offset: int, layout: Layout, handlers: int) -> dict[int, list]:
    """handler -> its sub-request, as chunks of a frame without size prefix (the request's own
    header, then its topics and partitions, in request order, topics with none left out), owners
    in first-seen order. The chunks are views of ``frame`` and small ``bytes``: what
    ``protocol.encode_request_parts`` gives for ``routing.split_by_owner``'s parts."""
    header = frame[:offset]
    topics_of: dict[int, list] = {}
    for _, name_field, entries in layout.topics:
        mine: dict[int, list] = {}
        start = _topic_hash(name_field)
        for index, entry in entries:
            mine.setdefault((start + index) % handlers, []).append(entry)
        for h, chosen in mine.items():
            topics_of.setdefault(h, []).append((name_field, chosen))
    out = {}
    for h, topics in topics_of.items():
        chunks = [header, layout.prefix, _I32.pack(len(topics))]
        for name_field, chosen in topics:
            chunks.append(name_field)
            chunks.append(_I32.pack(len(chosen)))
            chunks.extend(chosen)
        out[h] = chunks
    return out


def order_of(layout: Layout) -> Order:
    return Order(tuple((name, tuple(i for i, _ in entries)) for name, _, entries in layout.topics))


def _answers(frame, version: int, into: dict) -> int | None:
    """Add the partition answers of one response frame to ``into`` ((name, index) -> bytes);
    its throttle_time_ms, or None if the frame is not a well-formed Produce response."""
    try:
        end = len(frame)
        pos = 8  # size, correlation_id
        if _I32.unpack_from(frame, 0)[0] != end - 4:
            return None
        fixed = 4 + 2 + 8 + 8 + (8 if version >= 5 else 0)
        topics = _I32.unpack_from(frame, pos)[0]
        pos += 4
        for _ in range(topics):
            n = _I16.unpack_from(frame, pos)[0]
            if n < 0:
                return None
            name = str(frame[pos + 2 : pos + 2 + n], "utf-8")
            pos += 2 + n
            count = _I32.unpack_from(frame, pos)[0]
            pos += 4
            for _ in range(count):
                start = pos
                index = _I32.unpack_from(frame, pos)[0]
                pos += fixed
                if version >= 8:
                    errors = _I32.unpack_from(frame, pos)[0]
                    pos += 4
                    for _ in range(max(errors, 0)):
                        pos += 4 + 2 + max(_I16.unpack_from(frame, pos + 4)[0], 0)
                    pos += 2 + max(_I16.unpack_from(frame, pos)[0], 0)
                if pos > end:
                    return None
                into[(name, index)] = bytes(frame[start:pos])
        throttle = _I32.unpack_from(frame, pos)[0]
        return throttle if pos + 4 == end else None
    except (struct.error, UnicodeDecodeError):
        return None


def join(order: Order, version: int, correlation_id: int, frames: list) -> list | None:
    """One response frame (size prefix included, as one chunk) from the handlers' answer frames,
    topics and partitions in the request's order, the first answer's throttle_time_ms; what
    ``routing.join_responses`` and the codecs give. None if an answer is not as expected."""
    answers: dict[tuple[str, int], bytes] = {}
    throttle = None
    for f in frames:
        t = _answers(f, version, answers)
        if t is None:
            return None
        if throttle is None:
            throttle = t
    body = [_I32.pack(len(order.topics))]
    for name, indexes in order.topics:
        encoded = name.encode()
        found = [answers[(name, i)] for i in indexes if (name, i) in answers]
        body.append(_I16.pack(len(encoded)) + encoded + _I32.pack(len(found)))
        body.extend(found)
    body.append(_I32.pack(throttle or 0))
    payload = b"".join(body)
    return [_I32x2.pack(len(payload) + 4, correlation_id) + payload]
