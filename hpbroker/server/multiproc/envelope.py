"""The fixed headers in front of every ring record (little-endian, no padding).

Request record (processor -> handler), 32 bytes, then the request frame without its size prefix:

    u64 connection id   processor-unique (the processor's pid in the high bits, so the answers
                        to a dead processor's connections are recognised and dropped)
    u64 sequence        the request's number on its connection (responses are released in it)
    u16 kind            WHOLE: act on the whole request; OWNED: one part of a split
                        Produce/ListOffsets/DeleteRecords, holding only partitions this handler
                        owns (the handler still acts only on those it owns: a cheap guard of
                        the one-writer-per-partition rule); ASK: a whole request the processor
                        makes itself (its broker's ForwardingController), not a client's
    i16 api key, i16 api version, u16 session length, i32 correlation id,
    u32 received        low 32 bits of the processor's monotonic clock in microseconds when the
                        request arrived (the handler's request queue time: CLOCK_MONOTONIC is one
                        clock for every process of the machine)
    then ``session length`` bytes of the sender's session when the broker authorizes requests
    (ACLs): "principal\nclient host\nlistener" in UTF-8 (0 bytes without an authorizer)

Response record (handler -> processor), 24 bytes, then (status FRAME) the whole response frame,
size prefix included, ready to be written to the socket:

    u64 connection id, u64 sequence, u16 status (FRAME, NONE = the protocol has no answer, as
    acks=0 Produce; CLOSE = close the connection; FRAGMENT = the next piece of a frame larger than
    a ring record, whose last piece comes as FRAME: the pieces of one answer follow each other in
    the ring), u16 reserved,
    u32 answered        low 32 bits of the handler's monotonic clock in microseconds when it
                        pushed the answer (the processor's response queue time)
"""

import struct

from hpbroker.broker.request import Session

REQUEST = struct.Struct("<QQHhhHiI")
RESPONSE = struct.Struct("<QQHHI")

WHOLE, OWNED, ASK = 1, 2, 3
FRAME, NONE, CLOSE, FRAGMENT = 0, 1, 2, 3


def session_bytes(session: Session) -> bytes:
    return f"{session.principal}\n{session.client_host}\n{session.listener or ''}".encode()


def read_session(data: bytes) -> Session:
    principal, host, listener = data.decode().split("\n")
    return Session(principal=principal, client_host=host, listener=listener or None)


U32 = 0xFFFFFFFF


def stamp(ns: int) -> int:
    """A monotonic time in ns as the envelopes carry it (microseconds, low 32 bits)."""
    return (ns // 1000) & U32


def unstamp(stamp_us: int, now_ns: int) -> int:
    """The monotonic ns of a stamp taken less than 71 minutes before ``now_ns``."""
    return now_ns - (((now_ns // 1000) - stamp_us) & U32) * 1000
