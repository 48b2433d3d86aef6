"""The partition table: what each handler publishes about the partitions it owns.

Byte layout: ``slots`` rows of sixteen little-endian int64 (128 bytes, two cache lines):

    column  field              written when
    0       generation         0 = free slot; bumped after every publish (readers poll it)
    1, 2    topic_id           the topic's 16-byte id as two int64 (a deleted and re-created
                               topic has a new id, so a stale row never matches it)
    3       partition
    4       leader_epoch
    5       log_start_offset
    6       high_watermark     only bytes below it are served to consumers
    7       log_end_offset
    8       rewrites           bumped before and after the owner replaces segment files (the
                               log cleaner's swap): odd while files move. Readers open no file
                               while it is odd, drop every segment they hold when it moved, and
                               discard a read during which it moved (a seqlock).
    9       last_stable_offset read_committed consumers are served below it (<= high_watermark)
    10-15   (unused, zero)

Handler ``h`` owns rows ``[h * per_handler, (h + 1) * per_handler)`` and is their only writer,
so no row has two writers. Publish order: log_start_offset, log_end_offset, high_watermark,
last_stable_offset, then generation, each an aligned 8-byte store (single-copy atomic on x86-64
and aarch64). A reader that sees a high watermark therefore sees data that was written before
it (the handler appends to the segment file before publishing; the page cache is coherent
between processes). The columns are read one by one: a last stable offset above the high
watermark read with it is bounded by that high watermark.

Readers (processors) find a partition's row by scanning its owner's rows for the key once and
caching the row number; every read re-checks the key, so a row freed and reused is noticed.

Crash story: nothing here is durable. A restarted handler clears its rows and republishes from
its recovered logs; until then readers find no row and answer a retriable error.

Who may touch: handler ``h`` writes its rows; processors only read.
"""

from __future__ import annotations

import numpy as np

COLUMNS = 16
ROW_BYTES = COLUMNS * 8
GEN, TID_HI, TID_LO, PARTITION, LEADER_EPOCH, LOG_START, HW, LEO, REWRITES, LAST_STABLE = range(10)


def table_bytes(handlers: int, per_handler: int) -> int:
    return handlers * per_handler * ROW_BYTES


def topic_id_words(topic_id: bytes) -> tuple[int, int]:
    return (int.from_bytes(topic_id[:8], "little", signed=True), int.from_bytes(topic_id[8:16], "little", signed=True))


class PartitionTable:
    def __init__(self, buf, handlers: int, per_handler: int):
        self.rows = np.ndarray((handlers * per_handler, COLUMNS), dtype="<i8", buffer=buf)
        self.per_handler = per_handler
        self.handlers = handlers

    # owner (handler) side ---------------------------------------------------------------------
    def clear(self, handler: int) -> None:
        lo = handler * self.per_handler
        self.rows[lo : lo + self.per_handler, GEN] = 0
        self.rows[lo : lo + self.per_handler, 1:] = 0

    def claim(self, handler: int, topic_id: bytes, partition: int) -> int | None:
        """A free row of ``handler`` for a partition it starts to own; None if all are taken."""
        lo = handler * self.per_handler
        free = np.flatnonzero(self.rows[lo : lo + self.per_handler, GEN] == 0)
        if not len(free):
            return None
        row = lo + int(free[0])
        hi_w, lo_w = topic_id_words(topic_id)
        r = self.rows[row]
        r[TID_HI], r[TID_LO], r[PARTITION] = hi_w, lo_w, partition
        return row

    def publish(
        self,
        row: int,
        log_start_offset: int,
        high_watermark: int,
        log_end_offset: int,
        leader_epoch: int = 0,
        last_stable_offset: int | None = None,
    ) -> None:
        r = self.rows[row]
        r[LEADER_EPOCH] = leader_epoch
        r[LOG_START] = log_start_offset
        r[LEO] = log_end_offset
        r[HW] = high_watermark
        r[LAST_STABLE] = high_watermark if last_stable_offset is None else last_stable_offset
        r[GEN] += 1

    def begin_rewrite(self, row: int) -> None:
        """Segment files of the partition are about to move (odd: readers open none)."""
        self.rows[row, REWRITES] += 1

    def end_rewrite(self, row: int) -> None:
        """They moved (even again, and a new value: readers drop what they hold); the
        generation moves too, so parked Fetches look again."""
        self.rows[row, REWRITES] += 1
        self.rows[row, GEN] += 1

    def free(self, row: int) -> None:
        self.rows[row, GEN] = 0
        self.rows[row, 1:] = 0

    # reader (processor) side ------------------------------------------------------------------
    def find(self, handler: int, topic_id: bytes, partition: int) -> int | None:
        lo = handler * self.per_handler
        hi_w, lo_w = topic_id_words(topic_id)
        block = self.rows[lo : lo + self.per_handler]
        hit = np.flatnonzero(
            (block[:, TID_HI] == hi_w)
            & (block[:, TID_LO] == lo_w)
            & (block[:, PARTITION] == partition)
            & (block[:, GEN] != 0)
        )
        return lo + int(hit[0]) if len(hit) else None

    def matches(self, row: int, topic_id: bytes, partition: int) -> bool:
        hi_w, lo_w = topic_id_words(topic_id)
        r = self.rows[row]
        return r[GEN] != 0 and r[TID_HI] == hi_w and r[TID_LO] == lo_w and r[PARTITION] == partition

    def read(self, row: int) -> tuple[int, int, int, int, int]:
        """(generation, log_start_offset, high_watermark, log_end_offset, leader_epoch)."""
        gen, _, _, _, epoch, lso, hw, leo = self.rows[row, :REWRITES].tolist()
        return gen, lso, hw, leo, epoch

    def last_stable_offset(self, row: int) -> int:
        return int(self.rows[row, LAST_STABLE])

    def rewrites(self, row: int) -> int:
        return int(self.rows[row, REWRITES])

    def generation(self, row: int) -> int:
        return int(self.rows[row, GEN])
