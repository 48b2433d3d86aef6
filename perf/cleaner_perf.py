"""What a log cleaner pass costs: one compacted partition, built and then cleaned in-process.

    .venv/bin/python perf/cleaner_perf.py [--mib 256] [--record-size 100] [--keys 10000]
                                          [--batch 100] [--codec none|gzip|snappy|lz4|zstd]

Writes ``--mib`` of batches of ``--batch`` records (``--keys`` distinct keys, written round
robin, so each pass keeps one record per key) into a temporary partition under --dir, then
runs ``storage.cleaner.clean_log`` on it once (one pass: up to 64 MiB of dirty segments, see
PASS_DIRTY_BYTES) and reports
the pass's wall and CPU time per GB of log read, records walked per second and the bytes kept.
The pass runs on the partition owner's event loop in the broker, so this is also how long it
holds that loop. Figures go to ../tuning.md under "Log compaction".
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from hpbroker.records.builder import build_batch  # noqa: E402
from hpbroker.records.layout import GZIP, LZ4, NO_COMPRESSION, SNAPPY, ZSTD  # noqa: E402
from hpbroker.storage import LogConfig, PartitionLog  # noqa: E402
from hpbroker.storage.cleaner import clean_log  # noqa: E402
from perf._common import write_json  # noqa: E402

CODECS = {"none": NO_COMPRESSION, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
MIB = 1 << 20


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def measure(mib: int, record_size: int, keys: int, per_batch: int, codec: str, directory: str) -> dict:
    cfg = LogConfig(segment_bytes=64 * MIB, cleanup_delete=False, cleanup_compact=True)
    if directory:
        os.makedirs(directory, exist_ok=True)  # e.g. a fresh tmpfs directory
    path = tempfile.mkdtemp(prefix="cleaner-perf-", dir=directory)
    try:
        plog = PartitionLog(os.path.join(path, "t-0"), cfg)
        size = max(record_size - 12, 1)
        pool = os.urandom(MIB + size)  # values that do not compress away
        now = int(time.time() * 1000)
        n = 0
        while plog.size_bytes < mib * MIB:
            items = [
                (b"key-%08d" % ((n + i) % keys), pool[(n + i) * 7919 % MIB :][:size], (), now) for i in range(per_batch)
            ]
            plog.append(build_batch(items, compression=CODECS[codec]))
            n += per_batch
        plog.roll()
        before = plog.size_bytes
        c0, t0 = cpu(), time.perf_counter()
        result = clean_log(plog, now)
        wall, used = time.perf_counter() - t0, cpu() - c0
        gb = result.bytes_before / 1e9
        out = {
            "records": result.records_before,
            "keys": keys,
            "record_size": record_size,
            "batch": per_batch,
            "codec": codec,
            "log_bytes": before,
            "kept_bytes": result.bytes_after,
            "records_dropped": result.records_dropped,
            "wall_s": round(wall, 3),
            "cpu_s": round(used, 3),
            "cpu_s_per_gb": round(used / gb, 2),
            "mb_per_s": round(result.bytes_before / 1e6 / wall, 1),
            "records_per_s": round(result.records_before / wall),
        }
        plog.close()
        return out
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--record-size", type=int, default=100)
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=100, help="records per batch")
    ap.add_argument("--codec", default="none", choices=sorted(CODECS))
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--json-out", type=str, default=None, help="where to write the JSON result")
    a = ap.parse_args()
    r = measure(a.mib, a.record_size, a.keys, a.batch, a.codec, a.dir)
    print(
        f"{r['log_bytes'] / MIB:.0f} MiB written; the pass: {r['records']:,} records of {a.record_size} B, {a.keys:,} keys, "
        f"{a.codec}: pass {r['wall_s']} s wall, {r['cpu_s']} CPU-s ({r['cpu_s_per_gb']} CPU-s/GB), "
        f"{r['mb_per_s']} MB/s, {r['records_per_s']:,} records/s, kept {r['kept_bytes']:,} bytes"
    )
    write_json({"result": r}, a.json_out and Path(a.json_out), "cleaner_perf")


if __name__ == "__main__":
    main()
