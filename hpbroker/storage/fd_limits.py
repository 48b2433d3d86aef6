"""File descriptors: the broker's open-file limit, and how many partitions still fit under it.

Every partition keeps its segments open in the process that writes it (the .log, .index and
.timeindex of each segment: three descriptors), as Kafka does; connections, listening
sockets, eventfds and shared memory take the rest. A broker that runs out does not fail
gracefully anywhere: appends, index maps and accepts all start failing with EMFILE. So:

- at start-up the soft RLIMIT_NOFILE is raised to the hard one (what ``ulimit -n`` lets a
  process take without privileges; Kafka's documentation asks operators for 100,000 or more);
- CreateTopics and CreatePartitions refuse, with INVALID_PARTITIONS, a request for more
  partitions than the descriptors left can hold, instead of creating part of them;
- a listening socket that cannot accept for lack of descriptors stops being watched for a
  second (server/connection.py ``Acceptor``), as asyncio's own servers do, instead of
  waking its loop for the same pending connection again and again.

Who may touch: any process, for itself (limits and open descriptors are per process).
"""

from __future__ import annotations

import logging
import os

try:
    import resource
except ImportError:  # not POSIX
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FDS_PER_PARTITION = 3  # .log, .index, .timeindex of its active segment
RESERVED_FDS = 256  # connections, sockets, eventfds, shared memory, sealed segments' files
NOFILE_CEILING = 1 << 20  # an "unlimited" hard limit is not a number to allocate tables for


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit; the new soft limit."""
    if resource is None:
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE_CEILING if hard == resource.RLIM_INFINITY else min(hard, NOFILE_CEILING)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, want, exc)
    return soft


def open_file_limit() -> int:
    if resource is None:
        return NOFILE_CEILING
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return NOFILE_CEILING if soft == resource.RLIM_INFINITY else soft


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # no procfs: count nothing, the limit alone decides
        return 0


def partition_room() -> int:
    """How many more partitions this process can open, by descriptors (never negative)."""
    return max(0, (open_file_limit() - open_fds() - RESERVED_FDS) // FDS_PER_PARTITION)


def no_room_message(wanted: int, room: int) -> str:
    return (
        f"{wanted} partitions need about {wanted * FDS_PER_PARTITION} more open files; this broker "
        f"has room for {room} more partitions under its open-file limit ({open_file_limit()}, "
        f"ulimit -n)."
    )
