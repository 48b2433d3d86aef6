"""Stands in for ``python -m hpbroker`` in the compare.py test: runs a Tansu broker as its
child on the given port and, once it accepts connections, prints hpbroker's readiness line
"listening on HOST:PORT" to stderr. This exercises compare.py's start-up path (command
template, log-line readiness, CPU of a process tree, stopping a process group) exactly as
it will run the real hpbroker."""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "perf"))
import _brokers  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--data-dir", required=True)
args = parser.parse_args()
url = f"tcp://{args.host}:{args.port}"
child = subprocess.Popen(
    [_brokers.tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
    stdout=subprocess.DEVNULL,
)
while not _brokers.port_open(args.host, args.port):
    if child.poll() is not None:
        sys.exit(f"tansu exited with {child.returncode}")
    time.sleep(0.05)
print(f"hpbroker: listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
sys.exit(child.wait())
