"""A processor's read view over a partition the owner compacts: the partition table's rewrite
counter (a seqlock) keeps it off files being moved and makes it drop what it holds after a move.
Without that, a reader that re-lists the directory later keeps its old first segment and loses
what the cleaner merged into it from the segments after it."""

from __future__ import annotations

import contextlib

from hpbroker.records import batch
from hpbroker.records.builder import build_batch
from hpbroker.records.records import iter_batch_records
from hpbroker.server.multiproc.processor_broker import _ReadView
from hpbroker.storage import PartitionLog
from hpbroker.storage.cleaner import clean_log
from hpbroker.storage.config import LogConfig
from hpbroker.storage.reader import PartitionLogReader

NOW = 10_000_000_000
CFG = LogConfig(cleanup_delete=False, cleanup_compact=True)


def _keys_values(regions):
    out = []
    for region in regions:
        data, pos = region.read(), 0
        while pos < len(data):
            h = batch.read_header(data, pos)
            out += [(r.offset, r.key, r.value) for r in iter_batch_records(data[pos : pos + h.size])]
            pos += h.size
    return out


def _log(tmp_path):
    plog = PartitionLog(str(tmp_path / "p"), CFG)
    for key, value in ((b"a", b"1"), (b"rare", b"1"), (b"a", b"2")):
        plog.append(build_batch([(key, value, (), NOW)]))
        plog.roll()  # one segment each: the pass merges them into the first
    plog.append(build_batch([(b"z", b"1", (), NOW)]))
    plog.high_watermark_to_log_end()
    return plog


def test_the_rewrite_counter_makes_a_reader_drop_the_files_it_held(tmp_path):
    plog = _log(tmp_path)
    counter = [0]

    @contextlib.contextmanager
    def around_swap():
        counter[0] += 1
        assert view.read(0, 1 << 20).regions == []  # odd: nothing is read while files move
        yield
        counter[0] += 1

    stale = PartitionLogReader(plog.directory, CFG)
    view = _ReadView(PartitionLogReader(plog.directory, CFG), 0, 4, 4, lambda: counter[0])
    assert len(_keys_values(stale.read(0, 1 << 20, upper_bound=4).regions)) == 4
    assert len(_keys_values(view.read(0, 1 << 20).regions)) == 4
    clean_log(plog, NOW, around_swap=around_swap)
    assert counter[0] == 2
    plog.append(build_batch([(b"z", b"2", (), NOW)]))  # a new segment: readers must re-list
    plog.roll()
    plog.append(build_batch([(b"z", b"3", (), NOW)]))
    plog.high_watermark_to_log_end()
    truth = [(1, b"rare", b"1"), (2, b"a", b"2"), (3, b"z", b"1"), (4, b"z", b"2"), (5, b"z", b"3")]
    # the hazard: the stale reader keeps its old first segment and the merged ones are gone
    lost = _keys_values(stale.read(0, 1 << 20, upper_bound=6).regions)
    assert (1, b"rare", b"1") not in lost
    view = _ReadView(view.reader, 0, 6, 6, lambda: counter[0])
    assert _keys_values(view.read(0, 1 << 20).regions) == truth


def test_a_read_during_which_files_moved_is_discarded(tmp_path):
    plog = _log(tmp_path)
    values = iter([0, 2])  # even before the read, another even value after it: a whole move
    view = _ReadView(PartitionLogReader(plog.directory, CFG), 0, 4, 4, lambda: next(values))
    view.reader.rewrites_seen = 0
    got = view.read(0, 1 << 20)
    assert got.regions == [] and got.first_offset == 0 and got.high_watermark == 4
