"""Start-up cost of an idempotent producer's partition: the producer state (fencing, duplicate
detection) from a snapshot, against a replay of every batch header in the log.

    python perf/startup_perf.py [--batches 300000] [--dir /tmp]

Appends ``--batches`` idempotent batches (5 records of 100 B each: a producer with linger.ms 0
and a light load writes batches this small) through ``Partition.append_from_client``, writes
the producer snapshot as a clean close does, then times opening the partition (log and
producer state) with that snapshot and with it deleted. Files go to a temporary directory
under --dir and are removed. Figures in ../docs/performance.md ("Building blocks").
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common  # noqa: E402
from crc32c import crc32c  # noqa: E402

from hpbroker.records.builder import build_batch  # noqa: E402
from hpbroker.replication.partition import Partition  # noqa: E402
from hpbroker.storage import LogConfig, PartitionLog  # noqa: E402

OFF_BASE_SEQUENCE, OFF_CRC, OFF_ATTRIBUTES = 53, 17, 21


def measure(batches: int, directory: str) -> dict:
    tmp = tempfile.mkdtemp(dir=directory, prefix="startup-")
    path = os.path.join(tmp, "t-0")
    try:
        p = Partition("t", 0, PartitionLog(path, LogConfig()))
        template = build_batch([b"x" * 100] * 5, producer_id=7, producer_epoch=0, base_sequence=0)
        for i in range(batches):
            b = bytearray(template)
            struct.pack_into(">i", b, OFF_BASE_SEQUENCE, (5 * i) % 2**31)
            struct.pack_into(">I", b, OFF_CRC, crc32c(memoryview(b)[OFF_ATTRIBUTES:]))
            p.append_from_client(b, max_message_bytes=1 << 20, log_append_time=False)
        size = p.log.size_bytes
        p.write_producer_snapshot()
        p.log.close()
        out = {"batches": batches, "log_bytes": size}
        for key in ("with_snapshot_ms", "without_snapshot_ms"):
            t0 = time.perf_counter()
            q = Partition("t", 0, PartitionLog(path, LogConfig()))
            out[key] = round(1e3 * (time.perf_counter() - t0), 1)
            q.log.close()
            for name in os.listdir(path):
                if name.endswith(".snapshot"):
                    os.unlink(os.path.join(path, name))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=300_000)
    p.add_argument("--dir", default="/tmp")
    p.add_argument("--json-out", type=Path, default=None)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    r = measure(args.batches, args.dir)
    print(
        f"{r['batches']} idempotent batches ({r['log_bytes'] / 1e6:.0f} MB): partition open "
        f"{r['with_snapshot_ms']} ms with the producer snapshot, {r['without_snapshot_ms']} ms without"
    )
    print(f"results: {_common.write_json(r, args.json_out, 'startup_perf')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
