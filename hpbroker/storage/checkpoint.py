"""Checkpoint files: small key/value text files replaced atomically.

Byte layout (UTF-8 text, one ``name value`` pair a line, Kafka-like)::

    0                  <- format version
    log_start_offset 1200
    recovery_point 5000
    high_watermark 4800

Crash story: a checkpoint is written to ``<name>.tmp``, fsynced, renamed over ``<name>`` and the
directory fsynced. A crash leaves either the old or the new file, never a torn one; a stray
``.tmp`` is ignored and removed on the next write. A missing or unreadable checkpoint reads as
empty, and the log falls back to what the segments say (full recovery scan, start offset = first
segment's base offset).
"""

from __future__ import annotations

import os

VERSION = 0


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(path: str, values: dict[str, int]) -> None:
    tmp = path + ".tmp"
    text = f"{VERSION}\n" + "".join(f"{k} {int(v)}\n" for k, v in values.items())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path) or ".")


def read_checkpoint(path: str) -> dict[str, int]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return {}
    if not lines or lines[0].strip() != str(VERSION):
        return {}
    out = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) != 2:
            return {}  # not a file we wrote: trust nothing in it
        try:
            out[parts[0]] = int(parts[1])
        except ValueError:
            return {}
    return out
