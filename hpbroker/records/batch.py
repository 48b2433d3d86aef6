"""Validate, patch and scan RecordBatch v2 in place (byte layout in layout.py).

The functions never look at record bytes from Python: they run in Cython
(cython/records/_cbatch.pyx) with the pure-Python twin _pybatch.py as the reference.
"""
from __future__ import annotations

from hpbroker import _speedups
from hpbroker.records.layout import *  # noqa: F401,F403  (constants, BatchHeader, errors)
from hpbroker.records.layout import BatchHeader, InvalidRecordBatch  # noqa: F401

_impl = _speedups.load("hpbroker.records._cbatch", "hpbroker.records._pybatch")

#: read_header(buf, pos=0) -> BatchHeader (no CRC check; raises InvalidRecordBatch if short)
read_header = _impl.read_header
#: validate(buf, pos=0, end=-1) -> BatchHeader: exactly one client batch filling [pos, end)
validate = _impl.validate
#: patch(buf, pos, base_offset, partition_leader_epoch): stamp the fields outside the CRC
patch = _impl.patch
#: set_log_append_time(buf, pos, timestamp): LogAppendTime bit + maxTimestamp, CRC recomputed
set_log_append_time = _impl.set_log_append_time
#: scan(buf, pos=0, end=-1, check_crc=True) -> (valid_end, [(pos, base_offset, last_offset,
#: max_timestamp, size), ...]): walk whole batches until the first one that is short or bad
scan = _impl.scan
