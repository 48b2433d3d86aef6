"""LeaderEpochFileCache: which leader epoch wrote which offsets of a partition (KIP-101).

Each entry ``(epoch, start_offset)`` says that leader epoch ``epoch`` wrote its first batch at
``start_offset``; entries increase in both. The end of an epoch is the start of the next, or the
log end offset for the latest (``end_offset_for``, Kafka's LeaderEpochFileCache.endOffsetFor as
KIP-279 fixed it). A follower truncates to what the leader answers for its latest epoch
(OffsetForLeaderEpoch), never to its own high watermark.

Byte layout of ``leader-epoch-checkpoint`` (Kafka's LeaderEpochCheckpointFile, UTF-8 text)::

    0                 <- format version
    2                 <- number of entries
    0 0               <- epoch start_offset, oldest first
    3 120

Crash story: written to a ``.tmp`` file, fsynced and renamed over the old one (checkpoint.py's
``write_checkpoint`` order), so a crash leaves the old or the new list. A log whose tail recovery
cut is truncated here too when it opens (``truncate_from_end(log_end_offset)``); an unreadable or
missing file is rebuilt from the batches' partitionLeaderEpoch fields by the log.

Who may touch: the owner of the partition's log (its single writer).
"""

from __future__ import annotations

import bisect
import logging
import os

from hpbroker.storage.checkpoint import fsync_dir

log = logging.getLogger(__name__)

FILE_NAME = "leader-epoch-checkpoint"
VERSION = 0
UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1


class LeaderEpochFileCache:
    def __init__(self, directory: str, entries: list[tuple[int, int]] | None = None):
        self.path = os.path.join(directory, FILE_NAME)
        self._epochs: list[int] = []
        self._starts: list[int] = []
        for epoch, start in entries if entries is not None else []:
            self._epochs.append(epoch)
            self._starts.append(start)

    @classmethod
    def load(cls, directory: str) -> LeaderEpochFileCache | None:
        """The cache the file holds; None if there is no (readable) file."""
        path = os.path.join(directory, FILE_NAME)
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("%s: unreadable (%s), rebuilt from the log", path, exc)
            return None
        try:
            if int(lines[0]) != VERSION:
                raise ValueError(f"version {lines[0]!r}")
            n = int(lines[1])
            entries = []
            for line in lines[2 : 2 + n]:
                epoch, start = line.split()
                entries.append((int(epoch), int(start)))
            if len(entries) != n:
                raise ValueError(f"{len(entries)} entries, the header says {n}")
        except (IndexError, ValueError) as exc:
            log.warning("%s: malformed (%s), rebuilt from the log", path, exc)
            return None
        return cls(directory, entries)

    # -- reading --------------------------------------------------------------------------------
    def entries(self) -> list[tuple[int, int]]:
        return list(zip(self._epochs, self._starts))

    @property
    def latest_epoch(self) -> int:
        return self._epochs[-1] if self._epochs else UNDEFINED_EPOCH

    def epoch_for_offset(self, offset: int) -> int:
        i = bisect.bisect_right(self._starts, offset) - 1
        return self._epochs[i] if i >= 0 else UNDEFINED_EPOCH

    def start_offset_of(self, epoch: int) -> int:
        i = bisect.bisect_left(self._epochs, epoch)
        return self._starts[i] if i < len(self._epochs) and self._epochs[i] == epoch else UNDEFINED_OFFSET

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """(the largest epoch <= ``requested_epoch``, the offset after its last record): the end
        of an epoch is the start of the next one, the log end offset for the latest.
        (UNDEFINED_EPOCH, UNDEFINED_OFFSET) when the cache has no epoch that old."""
        if requested_epoch == UNDEFINED_EPOCH:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        if self._epochs and requested_epoch == self._epochs[-1]:
            return requested_epoch, log_end_offset
        i = bisect.bisect_right(self._epochs, requested_epoch)  # first epoch above the requested one
        if i == 0:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        if i == len(self._epochs):
            return self._epochs[-1], log_end_offset
        return self._epochs[i - 1], self._starts[i]

    # -- writing --------------------------------------------------------------------------------
    def assign(self, epoch: int, start_offset: int) -> bool:
        """Record that ``epoch`` starts at ``start_offset`` if it is newer than the latest entry
        (an epoch already known keeps its start). Entries with a start at or past ``start_offset``
        are dropped first (they were truncated away). True if the file was written."""
        if epoch < 0 or (self._epochs and epoch <= self._epochs[-1]):
            return False
        while self._starts and self._starts[-1] >= start_offset:
            self._epochs.pop()
            self._starts.pop()
        self._epochs.append(epoch)
        self._starts.append(start_offset)
        self.flush()
        return True

    def truncate_from_end(self, end_offset: int) -> None:
        """The log was cut to ``end_offset``: drop the epochs that start at or after it."""
        if self._starts and self._starts[-1] >= end_offset:
            i = bisect.bisect_left(self._starts, end_offset)
            del self._epochs[i:], self._starts[i:]
            self.flush()

    def truncate_from_start(self, start_offset: int) -> None:
        """The log start moved to ``start_offset``: the epoch holding it now starts there."""
        i = bisect.bisect_right(self._starts, start_offset) - 1
        if i < 0 or (i == 0 and self._starts[0] == start_offset):
            return
        del self._epochs[:i], self._starts[:i]
        self._starts[0] = start_offset
        self.flush()

    def clear(self) -> None:
        if self._epochs:
            self._epochs.clear()
            self._starts.clear()
            self.flush()

    def flush(self) -> None:
        tmp = self.path + ".tmp"
        text = f"{VERSION}\n{len(self._epochs)}\n" + "".join(f"{e} {s}\n" for e, s in zip(self._epochs, self._starts))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        fsync_dir(os.path.dirname(self.path) or ".")

    def __repr__(self) -> str:
        return f"LeaderEpochFileCache({self.entries()})"
