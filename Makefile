# Two commands set up a fresh Debian/Ubuntu machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast test-py test-py-fast test-pg test-fuzz test-js lint install node chromium postgresql vectors bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Node (for the JS half of the protocol tests) comes from Debian when the machine has none.
node:
	@command -v node >/dev/null || { apt-get update -q && apt-get install -y -q nodejs; }

# Debian's Chromium for the browser tests (Playwright's own browser download does not work here);
# the tests fail, never skip, without it.
chromium:
	@test -x /usr/bin/chromium || { apt-get update -q && apt-get install -y -q chromium; }

# PostgreSQL's server binaries for the tests on that backend: the fixtures start a throwaway
# cluster in a temporary directory (secure_msg/testing/pg_cluster.py), never a system service;
# the tests fail, never skip, without them. (Debian's package also sets up a cluster of its own,
# which the tests do not use.)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q postgresql; }

run: install
	$(VENV)/bin/secure-msg run

test: install node chromium postgresql lint test-py test-pg test-js

# pytest-xdist: `make test PYTEST_WORKERS=3` runs three workers on two cores, as the tests wait
# on servers, browsers and clocks more than they compute (session 11: 844-875 s against 1,519 s
# in one process). Not the default yet: in one of two such runs a browser test's 5 s wait ran
# out under the load. --dist loadfile keeps a module's tests in one worker, with the browser and
# servers its fixtures share. 0 (the default) runs them in this process.
PYTEST_WORKERS ?= 0
XDIST := -n $(PYTEST_WORKERS) --dist loadfile

# tests/storage runs on both backends in here (items marked `postgresql`). The slowest tests
# are listed at the end, so a CI log shows where its time goes.
test-py: install chromium postgresql
	$(PY) -m pytest -q $(XDIST) --durations=60

# The API suite again with PostgreSQL behind the app (--backend); tests marked `sqlite_only`
# (they read SQLite's files) are left out of this run.
test-pg: install postgresql
	$(PY) -m pytest -q $(XDIST) --backend=postgresql tests/api

# The check to run before each commit: no browser tests (and so no Chromium) and no tests marked
# `slow` (servers in subprocesses, long property runs). `make test` stays the one that must pass.
test-fast: install node lint test-py-fast test-js

test-py-fast: install postgresql
	$(PY) -m pytest -q $(XDIST) -m "not slow" --ignore=tests/browser

# The API fuzzer alone (also part of `make test`, bounded); to look further, e.g.
# `SECURE_MSG_FUZZ_EXAMPLES=1000 SECURE_MSG_FUZZ_SEED=7 make test-fuzz` (tests/fuzz/).
test-fuzz: install
	$(PY) -m pytest -q -s -m fuzz tests/fuzz

test-js: node
	node --test tests/js/

lint: install
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/mypy

vectors: install
	$(PY) tools/gen_vectors.py

bench: install
	$(PY) bench/crypto.py
	node bench/crypto.mjs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
