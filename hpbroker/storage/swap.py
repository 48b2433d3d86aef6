"""Replacing segments with cleaned ones, crash-safely (the log cleaner's file moves).

Layout inside a partition directory while a cleaning pass runs::

    cleaning/                 being written; not part of the log (removed when found on open)
        <base>.log .index .timeindex     the new segments, named by their base offsets
    cleaned/                  committed: the same files plus
        replaced              two lines of base offsets: "old b1 b2 ..." (the segments
                              replaced) and "new n1 ..." (the new segments, each named by an
                              old one)

Renaming ``cleaning/`` to ``cleaned/`` (after every file in it was fsynced) is the commit point.
``complete`` then unlinks the old segments that no new one takes the name of, renames each new
segment's indexes and then its .log over the old names (a reader opening the segment after the
.log moved gets files that belong together), removes ``cleaned/`` and fsyncs the directory.
Every step can run again: ``recover`` (called before a partition's segments are listed on
open) removes a ``cleaning/`` and completes a ``cleaned/`` left by a crash.

Segment listings (recovery.list_segment_offsets) only look at ``<20 digits>.log`` files of the
directory itself, so neither subdirectory is ever taken for a segment.

Who may touch: the partition's single writer.
"""

from __future__ import annotations

import os
import shutil

from hpbroker.storage.checkpoint import fsync_dir
from hpbroker.storage.segment import INDEX_SUFFIX, LOG_SUFFIX, TIMEINDEX_SUFFIX, segment_name
from hpbroker.storage.txn_index import ENTRY, TXNINDEX_SUFFIX, VERSION, read_entries

WORK_DIR = "cleaning"
COMMITTED_DIR = "cleaned"
REPLACED_FILE = "replaced"


def fresh_work_dir(directory: str) -> str:
    """An empty ``cleaning/`` (whatever an interrupted pass left there is dropped)."""
    path = os.path.join(directory, WORK_DIR)
    shutil.rmtree(path, ignore_errors=True)
    os.mkdir(path)
    return path


def commit(directory: str, replaced: list[int], new: list[int]) -> None:
    """Make the segments ``new`` written in ``cleaning/`` the log's, replacing the segments
    ``replaced`` (base offsets; each new one is named by one of them). The files in
    ``cleaning/`` must be fsynced already."""
    if not set(new) <= set(replaced):
        raise ValueError(f"new segments {new} must take names of replaced ones {replaced}")
    work = os.path.join(directory, WORK_DIR)
    path = os.path.join(work, REPLACED_FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        text = "old " + " ".join(map(str, replaced)) + "\nnew " + " ".join(map(str, new)) + "\n"
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(work)
    os.rename(work, os.path.join(directory, COMMITTED_DIR))
    fsync_dir(directory)


def complete(directory: str) -> list[int]:
    """Finish a committed swap; returns the base offsets of the new segments ([] if none)."""
    done = os.path.join(directory, COMMITTED_DIR)
    if not os.path.isdir(done):
        return []
    try:
        with open(os.path.join(done, REPLACED_FILE), encoding="ascii") as f:
            lines = dict(line.split(" ", 1) for line in f.read().splitlines())
        replaced = [int(b) for b in lines["old"].split()]
        new = [int(b) for b in lines["new"].split()]
    except (FileNotFoundError, ValueError, KeyError):
        # cannot happen after commit (written and fsynced before the rename): move nothing
        shutil.rmtree(done, ignore_errors=True)
        fsync_dir(directory)
        return []
    if replaced:
        keep = set(new)
        _merge_txn_indexes(directory, replaced, new)
        for base in replaced:
            if base in keep:
                continue
            stem = os.path.join(directory, segment_name(base))
            for suffix in (INDEX_SUFFIX, TIMEINDEX_SUFFIX, TXNINDEX_SUFFIX, LOG_SUFFIX):
                try:
                    os.unlink(stem + suffix)
                except FileNotFoundError:
                    pass
    # the moves of earlier attempts: a new .log already in place has no file left in done/
    for name in sorted(os.listdir(done)):
        if name.endswith((INDEX_SUFFIX, TIMEINDEX_SUFFIX)):
            os.replace(os.path.join(done, name), os.path.join(directory, name))
    for base in new:
        name = segment_name(base) + LOG_SUFFIX
        if os.path.exists(os.path.join(done, name)):  # else an earlier attempt moved it
            os.replace(os.path.join(done, name), os.path.join(directory, name))
    shutil.rmtree(done, ignore_errors=True)
    fsync_dir(directory)
    return new


def recover(directory: str) -> None:
    """On open, before listing segments: drop an uncommitted pass, finish a committed one."""
    shutil.rmtree(os.path.join(directory, WORK_DIR), ignore_errors=True)
    complete(directory)


def _merge_txn_indexes(directory: str, replaced: list[int], new: list[int]) -> None:
    """The aborted transactions of each replaced segment that no new one takes the name of go
    to the new segment that now holds its offsets (the cleaner keeps every marker), so a
    read_committed Fetch still names them. Idempotent: entries are merged as a set."""
    new_sorted = sorted(new)
    if not new_sorted:
        return
    gathered: dict[int, set] = {}
    for base in replaced:
        if base in new_sorted:
            continue
        owner = max((b for b in new_sorted if b <= base), default=new_sorted[0])
        entries = read_entries(os.path.join(directory, segment_name(base) + TXNINDEX_SUFFIX))
        if entries:
            gathered.setdefault(owner, set()).update(entries)
    for owner, extra in gathered.items():
        path = os.path.join(directory, segment_name(owner) + TXNINDEX_SUFFIX)
        merged = sorted(extra.union(read_entries(path)), key=lambda e: e.last_offset)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"".join(ENTRY.pack(VERSION, *e) for e in merged))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
