"""Security state kept as a JSON document under the log directory on a single node: SCRAM
credentials (``__scram_credentials.json``, what a cluster keeps in ZooKeeper's
/config/users/<user>) and ACLs (``__acls.json``, what a cluster keeps under /kafka-acl).

One process changes a document (the controller: the in-process server, or handler 0 of the
multi-process topology): it writes the whole document to a temporary file, fsyncs and renames it
over the old one, so a reader or a crash sees the old document or the new one, never a mix.
Every process reads it: ``read`` re-reads the file when its identity (inode, size, mtime)
changed, looking at most every CHECK_S, so a change applies everywhere well within a second and
a request pays one clock read, not a stat.

Who may touch: the event loop of its process; the writer is the controller only.
"""

from __future__ import annotations

import json
import logging
import os
import time

log = logging.getLogger(__name__)

CHECK_S = 0.2


class JsonFileStore:
    def __init__(self, path: str, kind: str):
        self.path = path
        self.kind = kind  # what it holds, for messages
        self.generation = 0  # bumps whenever a different document is read: caches key on it
        self._doc: dict = {}
        self._identity = None
        self._next_check = 0.0
        self._reload()

    def read(self) -> dict:
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + CHECK_S
            self._reload()
        return self._doc

    def reload(self) -> None:
        """Look at the file now, whenever it was last looked at."""
        self._next_check = time.monotonic() + CHECK_S
        self._reload()

    def _reload(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            identity = None
        else:
            identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        if identity == self._identity:
            return
        if identity is None:
            doc = {}
        else:
            try:
                with open(self.path, encoding="utf-8") as f:
                    doc = json.load(f)
            except (OSError, ValueError) as exc:
                log.error("cannot read the %s in %s: %s; keeping what was read before", self.kind, self.path, exc)
                return
        self._identity = identity
        self._doc = doc
        self.generation += 1

    def write(self, doc: dict) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, sort_keys=True, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dfd = os.open(os.path.dirname(self.path) or ".", os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._next_check = 0.0
        self._reload()
