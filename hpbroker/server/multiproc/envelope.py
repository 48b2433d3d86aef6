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
    i16 api key, i16 api version, u16 reserved, i32 correlation id, u32 reserved

Response record (handler -> processor), 24 bytes, then (status FRAME) the whole response frame,
size prefix included, ready to be written to the socket:

    u64 connection id, u64 sequence, u16 status (FRAME, NONE = the protocol has no answer, as
    acks=0 Produce; CLOSE = close the connection), u16 reserved, u32 reserved
"""

import struct

REQUEST = struct.Struct("<QQHhhHiI")
RESPONSE = struct.Struct("<QQHHI")

WHOLE, OWNED, ASK = 1, 2, 3
FRAME, NONE, CLOSE = 0, 1, 2
