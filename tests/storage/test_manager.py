"""LogManager: finding, creating, deleting partition logs over several log dirs."""

from __future__ import annotations

import os

from hpbroker.storage import LogConfig, LogManager, parse_topic_partition

from .helpers import make_batch


def test_parse_topic_partition():
    assert parse_topic_partition("my-topic.v2-13") == ("my-topic.v2", 13)
    assert parse_topic_partition("__consumer_offsets-0") == ("__consumer_offsets", 0)
    assert parse_topic_partition("nodash") is None and parse_topic_partition("t-x") is None


def test_manager_lifecycle(tmp_path):
    dirs = [str(tmp_path / "a"), str(tmp_path / "b")]
    m = LogManager(dirs, LogConfig(segment_bytes=500, retention_bytes=600, retention_ms=-1))
    logs = [m.get_or_create("t.x-y", p) for p in range(4)]
    assert m.get_or_create("t.x-y", 0) is logs[0] and m.get("t.x-y", 9) is None
    parents = [os.path.dirname(plog.directory) for plog in logs]
    assert parents.count(os.path.abspath(dirs[0])) == 2 and parents.count(os.path.abspath(dirs[1])) == 2
    for _ in range(10):
        logs[1].append(make_batch(1, 200))
    assert m.run_maintenance()["segments_deleted"] > 0
    assert logs[1].log_start_offset > 0
    assert m.delete("t.x-y", 3) and not os.path.exists(logs[3].directory)
    m.close()
    m2 = LogManager(dirs, LogConfig())
    assert m2.load() == 3
    assert sorted(tp for tp, _ in m2.logs()) == [("t.x-y", 0), ("t.x-y", 1), ("t.x-y", 2)]
    plog = m2.get("t.x-y", 1)
    assert plog.was_clean and plog.log_end_offset == 10
    m2.close()
