"""The leader epoch cache (leader-epoch-checkpoint): Kafka's file layout, KIP-279's end offsets,
truncation with the log at both ends, and a rebuild from the batches when the file is gone."""

import os

from hpbroker.storage import LogConfig, PartitionLog
from hpbroker.storage.leader_epoch import FILE_NAME, LeaderEpochFileCache
from tests.storage.helpers import crash, make_batch


def test_the_file_is_kafkas_layout_and_reads_back(tmp_path):
    c = LeaderEpochFileCache(str(tmp_path))
    assert c.assign(0, 0) and c.assign(3, 120)
    assert (tmp_path / FILE_NAME).read_text() == "0\n2\n0 0\n3 120\n"
    assert LeaderEpochFileCache.load(str(tmp_path)).entries() == [(0, 0), (3, 120)]
    assert not c.assign(3, 200) and not c.assign(2, 200)  # known or older epochs keep their start
    (tmp_path / FILE_NAME).write_text("0\n3\n1 0\n")  # fewer lines than it says: rebuilt instead
    assert LeaderEpochFileCache.load(str(tmp_path)) is None


def test_end_offsets_follow_kip_279(tmp_path):
    c = LeaderEpochFileCache(str(tmp_path), [(1, 0), (3, 12)])
    assert c.end_offset_for(3, 20) == (3, 20)  # the latest epoch ends at the log end
    assert c.end_offset_for(2, 20) == (1, 12)  # the largest epoch below, ending where 3 starts
    assert c.end_offset_for(1, 20) == (1, 12)
    assert c.end_offset_for(5, 20) == (3, 20)
    assert c.end_offset_for(0, 20) == (-1, -1)
    assert c.end_offset_for(-1, 20) == (-1, -1)


def test_truncation_from_either_end(tmp_path):
    c = LeaderEpochFileCache(str(tmp_path), [(1, 0), (2, 10), (4, 20)])
    c.truncate_from_end(20)
    assert c.entries() == [(1, 0), (2, 10)]
    c.truncate_from_start(15)
    assert c.entries() == [(2, 15)]
    c.assign(5, 15)  # a new epoch at an offset an old one starts at replaces it
    assert c.entries() == [(5, 15)]


def test_the_log_keeps_its_cache_in_step(tmp_path):
    log = PartitionLog(str(tmp_path), LogConfig())
    for epoch in (0, 0, 2, 2, 5):
        log.leader_epoch_cache.assign(epoch, log.log_end_offset)
        log.append(make_batch(2), leader_epoch=epoch)
    assert log.leader_epoch_cache.entries() == [(0, 0), (2, 4), (5, 8)]
    log.truncate_to(6)
    assert log.leader_epoch_cache.entries() == [(0, 0), (2, 4)]
    log.high_watermark = 6
    log.advance_log_start_offset(5)
    assert log.leader_epoch_cache.entries() == [(2, 5)]
    log.close()
    assert PartitionLog(str(tmp_path), LogConfig()).leader_epoch_cache.entries() == [(2, 5)]


def test_a_missing_file_is_rebuilt_from_the_batches_and_a_cut_tail_cuts_it(tmp_path):
    log = PartitionLog(str(tmp_path), LogConfig())
    for epoch in (1, 1, 3):
        log.leader_epoch_cache.assign(epoch, log.log_end_offset)
        log.append(make_batch(2), leader_epoch=epoch)
    size_before_last = log.active.size - len(make_batch(2))
    crash(log)
    os.remove(tmp_path / FILE_NAME)
    assert PartitionLog(str(tmp_path), LogConfig()).leader_epoch_cache.entries() == [(1, 0), (3, 4)]
    # a power loss cuts the last batch: the reopened log (unclean) drops epoch 3 with it
    seg = next(p for p in tmp_path.iterdir() if p.suffix == ".log")
    os.truncate(seg, size_before_last + 7)
    reopened = PartitionLog(str(tmp_path), LogConfig())
    assert reopened.log_end_offset == 4
    assert reopened.leader_epoch_cache.entries() == [(1, 0)]
