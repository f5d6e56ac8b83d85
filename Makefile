# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test host-deps testbed testbed-up testbed-down lint unit integration bench bench-tickets clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## the engine with its embedded defaults (SQLite, the testbed Asterisk), ready to take calls
run: $(STAMP) testbed
	$(PY) -m sip_testbed.run_local

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

## tickets at city scale (PostgreSQL, throw-away databases): TICKETS=10000000 for 10 M
TICKETS ?= 1000000
bench-tickets: $(STAMP)
	$(PY) -m benchmarks.tickets --size $(TICKETS) --small 100000

clean:
	rm -rf $(VENV) var
