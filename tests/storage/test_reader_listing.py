"""A reader re-lists the partition directory only when it may have changed.

A consumer at the tail makes every read end at the bound, where the reader cannot tell from the
segment alone whether the writer rolled to a segment it has not listed. Rather than re-list the
directory (listdir + parse) for every such read, i.e. every Fetch, it trusts its listing while
the directory's mtime is the one it listed (and older than LISTING_SETTLE_NS then).
"""

from __future__ import annotations

import time

import pytest

from hpbroker.records.builder import build_batch
from hpbroker.storage import reader as readermod
from hpbroker.storage.log import PartitionLog
from hpbroker.storage.reader import PartitionLogReader

LISTING_SETTLE_NS = 50_000_000  # what the fixture below sets


def _batch(n=5):
    return bytearray(build_batch([(None, b"v" * 100)] * n))


def _counting_listings(monkeypatch):
    calls = []
    orig = readermod.list_segment_offsets
    monkeypatch.setattr(readermod, "list_segment_offsets", lambda d: calls.append(d) or orig(d))
    return calls


@pytest.fixture(autouse=True)
def _short_settle(monkeypatch):
    # the production margin (2 s) covers filesystems with 1 s timestamps; this test's tmp
    # directory has nanosecond ones, and 50 ms keeps the test fast
    monkeypatch.setattr(readermod, "LISTING_SETTLE_NS", LISTING_SETTLE_NS)


def _log_and_trusted_reader(path: str, batches: int):
    log = PartitionLog(path)
    for _ in range(batches):
        log.append(_batch())
    reader = PartitionLogReader(path)
    time.sleep(LISTING_SETTLE_NS / 1e9 + 0.02)  # the point: the directory's mtime ages past the settle window
    reader.refresh()  # a listing made well after the directory last changed: trusted
    return log, reader


def test_reads_at_the_tail_do_not_relist(tmp_path, monkeypatch):
    log, reader = _log_and_trusted_reader(str(tmp_path / "t-0"), 20)
    calls = _counting_listings(monkeypatch)
    for _ in range(50):
        got = reader.read(90, 1 << 20, upper_bound=log.log_end_offset)
        assert got.first_offset == 90 and got.size > 0
        assert reader.read(log.log_end_offset, 1 << 20, upper_bound=log.log_end_offset).size == 0
    assert calls == []
    log.close()
    reader.close()


def test_a_segment_rolled_after_the_listing_is_found(tmp_path):
    log, reader = _log_and_trusted_reader(str(tmp_path / "t-0"), 4)
    assert reader.read(0, 1 << 20, upper_bound=log.log_end_offset).size > 0  # trusted listing
    old_end = log.log_end_offset
    log.roll()
    log.append(_batch())
    # at once (inside the settle window), and after it: the new segment's batch is served
    for pause in (0, LISTING_SETTLE_NS / 1e9 + 0.02):
        time.sleep(pause)  # the point: a read inside the settle window, then one past it
        got = reader.read(old_end, 1 << 20, upper_bound=log.log_end_offset)
        assert got.first_offset == old_end and got.size > 0
        whole = reader.read(0, 1 << 30, upper_bound=log.log_end_offset).read_bytes()
        log.high_watermark = log.log_end_offset
        assert whole == log.read_bytes(0, 1 << 30)
    log.close()
    reader.close()
