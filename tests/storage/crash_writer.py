"""Child process of the crash tests: append forever, print each acknowledged batch.

Usage: python crash_writer.py DIR SEED. Each batch's value bytes are derived from its base
offset so the parent can check content after a SIGKILL.
"""

import random
import sys

from hpbroker.records.builder import build_batch
from hpbroker.storage import LogConfig, PartitionLog

CONFIG = LogConfig(segment_bytes=64 * 1024, index_interval_bytes=512, segment_index_bytes=4096, retention_ms=-1)


def batch_for(offset: int, n: int, size: int):
    value = bytes([offset % 251]) * size
    return build_batch([value] * n, base_timestamp=1_000_000 + offset)


def main():
    directory, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    log = PartitionLog(directory, CONFIG)
    out = sys.stdout
    out.write(f"open {log.log_end_offset}\n")
    out.flush()
    while True:
        n = rng.randint(1, 4)
        size = rng.choice([10, 100, 3000, 20000])
        info = log.append(batch_for(log.log_end_offset, n, size))
        out.write(f"{info.base_offset} {info.last_offset} {size}\n")
        out.flush()


if __name__ == "__main__":
    main()
