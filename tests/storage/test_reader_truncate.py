"""A reader reset after the writer truncated must not trust what it learned before: a segment
that had a successor (sealed, size cached) can be truncated into, appended to and sealed again at
another size. Found by the stateful model test (test_log_model.py); this is its shortest case."""

import os
import shutil
import tempfile

from hpbroker.storage import LogConfig, PartitionLog, PartitionLogReader

from .helpers import make_batch


def test_sealed_size_is_forgotten_on_reset():
    root = tempfile.mkdtemp(prefix="hpb-reader-")
    directory = os.path.join(root, "t-0")
    config = LogConfig(
        segment_bytes=400, index_interval_bytes=0, segment_index_bytes=24, segment_ms=10_000, retention_ms=-1
    )
    log = PartitionLog(directory, config)
    reader = PartitionLogReader(directory, config)
    try:
        log.append(make_batch(2, 0, 1_000_000, fill=0), leader_epoch=3)
        log.roll()  # segment 0 now has a successor: the reader caches its size as final
        assert reader.read(0, 0, upper_bound=2, min_one_batch=False, log_start_offset=0).size == 0
        log.truncate_to(0)
        reader.reset()  # what the owner tells readers after a truncation
        first = make_batch(1, 0, 1_000_000, fill=0)
        log.append(first, leader_epoch=3)
        log.append(make_batch(5, 48, 1_000_000, fill=1), leader_epoch=3)  # rolls: 0 is sealed again
        assert [s.base_offset for s in log.segments] == [0, 1]
        got = reader.read(0, 75, upper_bound=1, min_one_batch=False, log_start_offset=0).read_bytes()
        assert got == bytes(first)
    finally:
        reader.close()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
