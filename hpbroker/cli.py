"""Command line entry point (``hpbroker`` console script and ``python -m hpbroker``)."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hpbroker", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument("--data-dir", default="./data")
    parser.parse_args(argv)
    print("hpbroker: the network server is not built yet", file=sys.stderr)
    return 1
