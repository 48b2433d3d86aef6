"""A reader over the writer's active (preallocated) index uses the index, not a walk from byte 0."""

from hpbroker.records.builder import build_batch
from hpbroker.storage import segment as segmod
from hpbroker.storage.log import PartitionLog
from hpbroker.storage.reader import PartitionLogReader


def test_reader_of_active_segment_reads_few_headers(tmp_path, monkeypatch):
    path = str(tmp_path / "t-0")
    log = PartitionLog(path)
    for _ in range(500):
        log.append(bytearray(build_batch([(None, b"x" * 1000)] * 10)))
    log.high_watermark = log.log_end_offset
    reader = PartitionLogReader(path)
    calls = []
    orig = segmod.Segment.read_header
    monkeypatch.setattr(segmod.Segment, "read_header", lambda self, pos: calls.append(pos) or orig(self, pos))
    for offset in (0, 2500, 4990):
        calls.clear()
        got = reader.read(offset, 1 << 16, upper_bound=log.high_watermark)
        assert got.size > 0 and got.first_offset <= offset
        assert len(calls) < 40, f"{len(calls)} batch headers read to serve offset {offset}"
    assert reader.read_bytes(4990, 1 << 20, upper_bound=log.high_watermark) == log.read_bytes(4990, 1 << 20)
    log.close()
    reader.close()
