# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run run-cluster test test-cluster-full host-deps testbed testbed-up testbed-down lint unit integration bench bench-writer bench-reports bench-calls soak bench-tickets bench-cluster clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## the engine with its embedded defaults (SQLite, the testbed Asterisk), ready to take calls
run: $(STAMP) testbed
	$(PY) -m sip_testbed.run_local

## the cluster: Kamailio in front of two Asterisk nodes, an active and a standby engine
## (leadership through PostgreSQL: CALLCENTER_DATABASE_URL, default database callcenter_cluster)
run-cluster: $(STAMP) testbed
	$(PY) -m sip_testbed.run_cluster

## lint, types, unit tests and the integration suite against the real testbed and PostgreSQL
test: $(STAMP) host-deps testbed lint
	$(PY) -m pytest -q

## host tools the tests use: espeak-ng speaks the test messages and sox resamples them; Node.js
## runs the wallboard's script logic, Chromium shows the pages in a real browser (driven by
## Playwright), and a CJK font lets it draw the Chinese pages (screenshots read)
HOST_TOOLS := espeak-ng:espeak-ng sox:sox node:nodejs chromium:chromium
HOST_FONTS := fonts-noto-cjk
host-deps:
	@missing=$$(for t in $(HOST_TOOLS); do command -v $${t%%:*} >/dev/null || echo $${t#*:}; done; \
	  for f in $(HOST_FONTS); do dpkg -s $$f >/dev/null 2>&1 || echo $$f; done); \
	  [ -z "$$missing" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq $$missing >/dev/null; }

testbed:
	bash sip_testbed/build_rootfs.sh >/dev/null

testbed-up: $(STAMP) testbed
	$(PY) -m sip_testbed.testbed up

testbed-down: $(STAMP)
	$(PY) -m sip_testbed.testbed down

lint: $(STAMP)
	$(VENV)/bin/ruff check callcenter migrations tests sip_testbed benchmarks
	$(VENV)/bin/ruff format --check callcenter migrations tests sip_testbed benchmarks
	$(VENV)/bin/mypy callcenter

## the fast tests: no Asterisk, no PostgreSQL (tests are marked by the fixtures they use)
unit: $(STAMP)
	$(PY) -m pytest -q -m "not testbed and not db"

integration: $(STAMP) testbed
	$(PY) -m pytest -q -m testbed

bench: $(STAMP)
	$(PY) -m benchmarks

## the writer against PostgreSQL: drain rate, and its lag at 200 calls/s (seconds)
bench-writer: $(STAMP)
	$(PY) -m benchmarks.writer

## the monthly report over 1,000,000 tickets in a throw-away PostgreSQL database (minutes)
bench-reports: $(STAMP)
	$(PY) -m benchmarks.reports

# the engine on the testbed under load (not part of `make test`): RATES=20,50 SECONDS=10 AGENTS=300
RATES ?= 20,50,80,100,140
SECONDS ?= 10
AGENTS ?= 300
bench-calls: $(STAMP) testbed
	$(PY) -m benchmarks.calls ramp --rates $(RATES) --seconds $(SECONDS) --agents $(AGENTS)

# a steady rate for MINUTES (default 10), printing the engine's RSS over time
MINUTES ?= 10
RATE ?= 20
CALLERS ?= 5000
soak: $(STAMP) testbed
	$(PY) -m benchmarks.calls soak --minutes $(MINUTES) --rate $(RATE) --agents 100 --callers $(CALLERS)

## the cluster's failure tests at full size: 200 calls at 10/s per failure (make test runs 100)
test-cluster-full: $(STAMP) testbed
	CALLCENTER_CLUSTER_CALLS=200 $(PY) -m pytest -q -s -m cluster

# sustained calls/s through Kamailio, two nodes against one, printed as a ratio
CLUSTER_RATES ?= 20,40,60,80
bench-cluster: $(STAMP) testbed
	$(PY) -m benchmarks.cluster --rates $(CLUSTER_RATES) --seconds $(SECONDS) --agents 200

## tickets at city scale (PostgreSQL, throw-away databases): TICKETS=10000000 for 10 M
TICKETS ?= 1000000
bench-tickets: $(STAMP)
	$(PY) -m benchmarks.tickets --size $(TICKETS) --small 100000

clean:
	rm -rf $(VENV) var
