"""One version: written in hpbroker/__init__.py, read from there by the package metadata
(pyproject.toml's dynamic version) and printed by ``hpbroker --version``."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import hpbroker

ROOT = Path(hpbroker.__file__).parent.parent


def test_the_command_line_prints_the_package_version():
    out = subprocess.run([sys.executable, "-m", "hpbroker", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"hpbroker {hpbroker.__version__}"


def test_the_installed_metadata_has_the_package_version():
    assert importlib.metadata.version("hpbroker") == hpbroker.__version__


def test_pyproject_reads_the_version_from_the_package():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"], "the version is written once, in hpbroker/__init__.py"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hpbroker.__version__"}


def test_the_license_file_is_the_one_pyproject_names():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert project["license-files"] == ["LICENSE"]
