"""Child process of the reader test: append, roll, delete old segments, publish the bound.

Usage: python reader_writer.py DIR SECONDS. After every append (bytes written and indexed)
it prints ``<log_start_offset> <log_end_offset>``: the published bound.
"""

import random
import sys
import time

from hpbroker.records.builder import build_batch
from hpbroker.storage import LogConfig, PartitionLog

CONFIG = LogConfig(
    segment_bytes=48 * 1024,
    index_interval_bytes=256,
    segment_index_bytes=4096,
    retention_ms=-1,
    retention_bytes=256 * 1024,
)


def main():
    directory, seconds = sys.argv[1], float(sys.argv[2])
    rng = random.Random(5)
    log = PartitionLog(directory, CONFIG)
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        off = log.log_end_offset
        n = rng.randint(1, 3)
        log.append(build_batch([bytes([off % 251]) * rng.choice([5, 300, 5000])] * n, base_timestamp=1_000_000 + off))
        i += 1
        if i % 50 == 0:
            log.delete_old_segments(0)
        sys.stdout.write(f"{log.log_start_offset} {log.log_end_offset}\n")
        sys.stdout.flush()
    log.close()


if __name__ == "__main__":
    main()
