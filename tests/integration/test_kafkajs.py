"""KafkaJS (npm, tests/js) over SSL and SASL_SSL with SCRAM-SHA-256 / SCRAM-SHA-512 and PLAIN.
The package is installed from tests/js/package-lock.json (``npm ci``) on first use; without node
and npm the test is skipped, saying why."""

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from tests.integration.conftest import mode_broker
from tests.integration.test_sasl import add_scram_users, sasl_config
from tests.security.certs import make_certs

pytestmark = pytest.mark.integration

JS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "js")


@pytest.fixture(scope="module")
def kafkajs():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the KafkaJS tests")
    # make test's passes run at once: one installs while the others wait on the lock, and an
    # install counts only once its marker is written (a half-done one is redone)
    marker = os.path.join(JS, "node_modules", ".hpbroker-installed")
    with open(os.path.join(JS, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(marker):
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300, capture_output=True
            )
            with open(marker, "w"):
                pass
    return os.path.join(JS, "roundtrip.js")


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    certs = make_certs(str(tmp_path_factory.mktemp("certs")))
    data_dir = tempfile.mkdtemp(prefix="hpbroker-kafkajs-")
    add_scram_users(data_dir)
    config = sasl_config(certs, listeners="PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0")
    with mode_broker(config=config, data_dir=data_dir) as b:
        yield b, certs


def _run(script, broker, listener, certs, sasl=None):
    cfg = {
        "brokers": [broker.listeners[listener].replace("127.0.0.1", "localhost")],
        "ssl": {"ca": certs.ca},
        "sasl": sasl,
        "topic": f"js-{uuid.uuid4().hex[:8]}",
        "count": 25,
    }
    out = subprocess.run(["node", script, json.dumps(cfg)], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0 and out.stdout.strip() == "OK 25", out.stdout + out.stderr


def test_kafkajs_over_ssl(kafkajs, secured):
    broker, certs = secured
    _run(kafkajs, broker, "SSL", certs)


@pytest.mark.parametrize("mechanism", ["scram-sha-256", "scram-sha-512", "plain"])
def test_kafkajs_over_sasl_ssl(kafkajs, secured, mechanism):
    broker, certs = secured
    _run(kafkajs, broker, "SASL_SSL", certs, {"mechanism": mechanism, "username": "alice", "password": "alice-secret"})
