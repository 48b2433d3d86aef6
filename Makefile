# hpbroker: every target works as the first command on a fresh clone.
# `make install` creates .venv (if missing) and installs hpbroker with its compiled Cython
# extensions and test extras; it reruns only when the build inputs change.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.hpbroker-installed
BUILD_INPUTS := pyproject.toml setup.py hpbroker/__init__.py $(shell find cython -name '*.pyx' -o -name '*.pxd' 2>/dev/null)
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: lint install run cluster test test-compiled test-pure test-multiproc test-cluster bench docs clean

install: $(STAMP)

$(STAMP): $(BUILD_INPUTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,perf,lint]'
	@touch $@

# ruff (lint rules and formatter) and mypy, configured in pyproject.toml; .ci/run runs it first.
lint: install
	$(VENV)/bin/ruff check hpbroker tests perf loadtest tools setup.py
	$(VENV)/bin/ruff format --check hpbroker tests perf loadtest tools setup.py
	$(VENV)/bin/mypy

run: install
	$(VENV)/bin/hpbroker --host 127.0.0.1 --port 9092 --data-dir ./data

# a local cluster to try: ZooKeeper (Debian's zookeeper package) on 2181 and brokers on 9092-9094,
# kept in ./cluster-data; ^C stops it
cluster: install
	$(VENV)/bin/hpbroker cluster --data-dir ./cluster-data

# The suite runs in four passes at once (most of a test's time is spent waiting on clients,
# brokers and ZooKeeper, not on the CPU): with the compiled extensions (and a test asserting they
# are the ones loaded); with HPBROKER_PURE=1 selecting the pure-Python twins; the integration
# tests (real clients) against the multi-process topology (2 processors, 2 handlers); and the
# cluster tests (ZooKeeper and several brokers: compiled only, the control plane has no twin).
# Each pass's output is printed when it ends. Tests marked `timing` (wall-clock delays, CPU
# seconds, wake-ups: figures a busy machine skews) run apart, in test-timing, on a machine left
# to them.
test: install
	$(MAKE) --no-print-directory -j4 --output-sync=target test-compiled test-pure test-multiproc test-cluster

test-compiled: install
	$(PYTEST) -q --benchmark-skip -m "not timing" --ignore=tests/cluster tests

test-pure: install
	HPBROKER_PURE=1 $(PYTEST) -q --benchmark-skip -m "not timing" --ignore=tests/cluster tests

test-multiproc: install
	HPBROKER_TEST_MODE=multiproc $(PYTEST) -q -m "not timing" tests/integration

test-cluster: install
	$(PYTEST) -q -m "not timing" tests/cluster

.PHONY: test-timing
test-timing: install
	$(PYTEST) -q --benchmark-skip -m timing tests

# docs/configuration.md, generated from the config definitions (a test fails when it is stale)
docs: install
	$(PY) -m hpbroker.configdef.doc

bench: install
	$(PYTEST) -q --benchmark-only --benchmark-columns=min,median,mean,ops,rounds tests/bench

clean:
	rm -rf build $(VENV) hpbroker/**/*.so cython/**/*.c
