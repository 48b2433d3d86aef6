"""PartitionLog against a simple in-memory model of a Kafka log (hypothesis stateful test)."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hpbroker import environment
from hpbroker.records import batch as rb
from hpbroker.storage import LogConfig, OffsetOutOfRange, PartitionLog, PartitionLogReader

from .helpers import crash, make_batch


class LogMachine(RuleBasedStateMachine):
    @initialize(
        segment_bytes=st.sampled_from([400, 1500, 5000]),
        index_interval=st.sampled_from([0, 150, 1000]),
        index_bytes=st.sampled_from([24, 48, 4096]),
    )
    def setup(self, segment_bytes, index_interval, index_bytes):
        self.root = tempfile.mkdtemp(prefix="hpb-model-")
        self.dir = os.path.join(self.root, "t-0")
        self.config = LogConfig(
            segment_bytes=segment_bytes,
            index_interval_bytes=index_interval,
            segment_index_bytes=index_bytes,
            segment_ms=10_000,
            retention_ms=-1,
        )
        self.log = PartitionLog(self.dir, self.config)
        self.reader = PartitionLogReader(self.dir, self.config)  # as another process would
        self.batches = []  # (base, last, max_ts, bytes) of every batch holding offsets >= lso
        self.lso = 0
        self.leo = 0
        self.hw = 0
        self.ts = 1_000_000

    def teardown(self):
        if hasattr(self, "log"):
            crash(self.log)
            self.reader.close()
            shutil.rmtree(self.root, ignore_errors=True)

    # -- model helpers ------------------------------------------------------------------------
    def _drop_below_lso(self):
        self.batches = [b for b in self.batches if b[1] >= self.lso]

    def expected_read(self, fetch, max_bytes, ub, min_one):
        out, total = [], 0
        for base, last, _, data in self.batches:
            if last < fetch:
                continue
            if last >= ub:
                break
            if total + len(data) > max_bytes and (out or not min_one):
                break
            out.append(data)
            total += len(data)
        return b"".join(out)

    # -- rules ----------------------------------------------------------------------------------
    @rule(
        shapes=st.lists(
            st.tuples(st.integers(1, 5), st.integers(0, 700), st.integers(-50, 3000), st.booleans()),
            min_size=1,
            max_size=8,
        )
    )
    def append_some(self, shapes):
        for n, size, dts, append_time in shapes:
            self.append(n, size, dts, append_time)

    def append(self, n, size, dts, append_time):
        self.ts += dts
        buf = make_batch(n, size, self.ts, fill=self.leo)
        lat = self.ts + 7 if append_time else None
        info = self.log.append(buf, leader_epoch=3, log_append_time=lat)
        assert info.base_offset == self.leo and info.last_offset == self.leo + n - 1
        assert info.log_append_time == (-1 if lat is None else lat)
        h = rb.validate(bytes(buf))  # still a valid batch after patching
        assert h.partition_leader_epoch == 3 and h.base_offset == self.leo
        self.batches.append((info.base_offset, info.last_offset, info.max_timestamp, bytes(buf)))
        self.leo += n

    @rule(data=st.data())
    def read(self, data):
        fetch = data.draw(st.integers(self.lso - 1, self.leo + 1), "fetch")
        ub = data.draw(st.one_of(st.none(), st.integers(self.lso, self.leo + 2)), "ub")
        max_bytes = data.draw(st.integers(0, 6000), "max_bytes")
        min_one = data.draw(st.booleans(), "min_one")
        if fetch < self.lso or fetch > self.leo:
            try:
                self.log.read(fetch, max_bytes, upper_bound=ub, min_one_batch=min_one)
            except OffsetOutOfRange:
                return
            raise AssertionError("OffsetOutOfRange expected")
        res = self.log.read(fetch, max_bytes, upper_bound=ub, min_one_batch=min_one)
        bound = self.hw if ub is None else min(ub, self.leo)
        expected = self.expected_read(fetch, max_bytes, bound, min_one)
        got = res.read_bytes()
        assert got == expected, (fetch, max_bytes, bound, min_one, len(got), len(expected))
        assert res.size == len(got) == sum(r.length for r in res.regions)
        if got:
            assert res.first_offset == rb.read_header(got).base_offset

    @rule(data=st.data())
    def reader_read(self, data):
        """A reader with a published bound sees exactly what the writer would serve."""
        fetch = data.draw(st.integers(self.lso - 1, self.leo), "fetch")
        ub = data.draw(st.integers(self.lso, self.leo), "ub")
        max_bytes = data.draw(st.integers(0, 6000), "max_bytes")
        min_one = data.draw(st.booleans(), "min_one")
        if fetch < self.lso:
            try:
                self.reader.read(fetch, max_bytes, upper_bound=ub, min_one_batch=min_one, log_start_offset=self.lso)
            except OffsetOutOfRange:
                return
            raise AssertionError("OffsetOutOfRange expected")
        res = self.reader.read(fetch, max_bytes, upper_bound=ub, min_one_batch=min_one, log_start_offset=self.lso)
        assert res.read_bytes() == self.expected_read(fetch, max_bytes, ub, min_one)

    @rule(data=st.data())
    def set_high_watermark(self, data):
        hw = data.draw(st.integers(self.lso - 2, self.leo + 2))
        self.log.high_watermark = hw
        self.hw = min(max(hw, self.lso), self.leo)

    @rule(data=st.data())
    def truncate(self, data):
        offset = data.draw(st.integers(self.lso, self.leo + 1))
        self.log.truncate_to(offset)
        self.reader.reset()  # the owner tells readers about a truncation
        if offset < self.leo:
            removed = [b for b in self.batches if b[1] >= offset]
            if removed:
                self.leo = removed[0][0]
                self.batches = [b for b in self.batches if b[1] < offset]
            self.lso = min(self.lso, self.leo)
            self.hw = min(self.hw, self.leo)

    @rule(data=st.data())
    def advance_log_start_offset(self, data):
        offset = data.draw(st.integers(self.lso, self.leo))
        self.log.advance_log_start_offset(offset)
        self.lso = max(self.lso, offset)
        self.hw = max(self.hw, self.lso)
        self._drop_below_lso()

    @rule(retention_bytes=st.integers(0, 8000))
    def retention_by_size(self, retention_bytes):
        self.log.config = replace(self.config, retention_bytes=retention_bytes)
        before = self.log.size_bytes
        self.log.delete_old_segments(0)
        self.log.config = self.config
        segs = self.log.segments
        assert self.log.size_bytes <= before
        if len(segs) > 1:  # deleting the oldest remaining one would go below the limit
            assert self.log.size_bytes - segs[0].size < retention_bytes
        self._after_retention()

    @rule(age=st.integers(0, 20_000))
    def retention_by_time(self, age):
        self.log.config = replace(self.config, retention_ms=age)
        now = self.ts
        self.log.delete_old_segments(now)
        self.log.config = self.config
        segs = self.log.segments
        if len(segs) > 1:
            assert now - segs[0].largest_timestamp() <= age
        self._after_retention()

    def _after_retention(self):
        new_lso = self.log.log_start_offset
        assert new_lso >= self.lso
        assert new_lso == self.lso or new_lso == self.log.segments[0].base_offset
        self.lso = new_lso
        self.hw = max(self.hw, self.lso)
        self._drop_below_lso()

    @rule()
    def roll(self):
        self.log.roll()

    @rule()
    def flush(self):
        self.log.flush()
        assert self.log.recovery_point == self.leo

    @rule(clean=st.booleans())
    def reopen(self, clean):
        if clean:
            self.log.close()
        else:
            crash(self.log)
        self.log = PartitionLog(self.dir, self.config)
        assert self.log.was_clean == clean
        if not clean:
            # the high watermark is only as fresh as the last checkpoint: the owner re-sets it
            self.log.high_watermark = self.hw

    @rule(target_ts=st.integers(999_000, 1_200_000))
    def offset_for_timestamp(self, target_ts):
        expected = None
        for base, last, max_ts, _ in self.batches:
            if max_ts >= target_ts:
                expected = (max(base, self.lso), max_ts)
                break
        assert self.log.offset_for_timestamp(target_ts) == expected

    @invariant()
    def offsets_agree(self):
        if not hasattr(self, "log"):
            return
        assert self.log.log_end_offset == self.leo
        assert self.log.log_start_offset == self.lso
        assert self.log.high_watermark == self.hw
        segs = self.log.segments
        assert [s.base_offset for s in segs] == sorted({s.base_offset for s in segs})
        assert self.log.size_bytes == sum(os.path.getsize(s.log_path) for s in segs)

    @precondition(lambda self: hasattr(self, "log"))
    @rule()
    def headers(self):
        got = [h.base_offset for h in self.log.iter_batch_headers(self.lso)]
        assert got == [b[0] for b in self.batches]


LogMachine.TestCase.settings = settings(
    max_examples=int(environment.value("HPB_MODEL_EXAMPLES")),
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLogModel = LogMachine.TestCase
