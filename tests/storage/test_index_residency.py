"""An index file is preallocated to segment.index.bytes but holds a few entries: appending the
first ones must not pull megabytes of it into the page cache.

Without MADV_RANDOM on the writer's map, the first store into the sparse file makes ext4 read
ahead (allocate and zero) a large folio: up to 8 MiB resident per new index file, 16 MiB per
new segment. Residency is read with mincore(2).
"""

from __future__ import annotations

import ctypes
import mmap
import os

import numpy as np
import pytest

from hpbroker.storage.index import OffsetIndex
from hpbroker.storage.timeindex import TimeIndex

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
PAGE = mmap.PAGESIZE


def resident_pages(path: str) -> int:
    """Pages of ``path`` in the page cache (whoever mapped or read them)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mm:
            view = np.frombuffer(mm, dtype=np.uint8)
            vec = (ctypes.c_ubyte * ((size + PAGE - 1) // PAGE))()
            rc = _libc.mincore(ctypes.c_void_p(view.ctypes.data), ctypes.c_size_t(size), vec)
            del view
            if rc != 0:
                raise OSError(ctypes.get_errno(), "mincore")
            return sum(v & 1 for v in vec)
    finally:
        os.close(fd)


@pytest.mark.parametrize("cls, entry", [(OffsetIndex, (5, 4096)), (TimeIndex, (1_700_000_000_000, 5))])
def test_first_entries_touch_one_page(tmp_path, cls, entry):
    path = str(tmp_path / f"00000000000000000000.{cls.__name__}")
    index = cls(path, 0, 10 << 20, preallocate=True)
    try:
        index.append(*entry)
        assert os.path.getsize(path) > (10 << 20) - 16  # preallocated: a sparse file of ~10 MiB
        # one page holds the entry; a handful of pages of fault-around is fine, a folio is not
        assert resident_pages(path) <= 16
    finally:
        index.close()
