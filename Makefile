# roamsim developer entry points. `make run` and `make test` work on a fresh
# Debian 12 machine with python3: they create .venv and install what they use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
BIN    := $(VENV)/bin
# A venv counts as made once it has pip (a failed ensurepip leaves one without).
VENV_OK := $(VENV)/bin/pip

SCENARIO ?= examples/quickstart.yaml
RUN_DIR  ?= runs/quickstart
JUNIT    ?= test-artifacts/junit.xml
PYTEST_ARGS ?=

# Stamps: reinstall only when the project metadata changes.
STAMP_RUN  := $(VENV)/.stamp-install
STAMP_TEST := $(VENV)/.stamp-install-test
STAMP_DEBS := $(VENV)/.stamp-debs

.DEFAULT_GOAL := help
.PHONY: help venv install run test test-fast test-slow lint typecheck bench clean

help:
	@echo "make run        create $(VENV), install roamsim, run $(SCENARIO) into $(RUN_DIR)"
	@echo "make test       ruff, mypy and the fast tests (JUnit XML in $(JUNIT))"
	@echo "make test-slow  the slow (scale) tests"
	@echo "make lint | typecheck | bench | clean"

# The venv is usable once it has pip. Debian's python3 needs python3-venv for
# ensurepip; install it when missing and we are root with apt-get.
$(VENV_OK):
	@if ! $(PYTHON) -c 'import ensurepip' >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing python3-venv (ensurepip is missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	  else \
	    echo "error: $(PYTHON) cannot create a venv (no ensurepip); install python3-venv" >&2; exit 1; \
	  fi; \
	fi
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)

venv: $(VENV_OK)

$(STAMP_RUN): pyproject.toml | $(VENV_OK)
	$(PIP) install -q -e .
	@touch $@

$(STAMP_TEST): pyproject.toml | $(VENV_OK)
	$(PIP) install -q -e '.[test,bench]'
	@touch $@ $(STAMP_RUN)

# Debian packages the tests use: tshark judges the packet traces (tests/test_pcap.py); Prometheus,
# promtool and the Pushgateway check the metrics (tests/test_metrics*.py); chromium opens the HTML report
# (tests/test_report_browser.py). Rechecked when the Makefile changes.
# Installed with apt-get when missing and we are root; otherwise say what to install.
$(STAMP_DEBS): Makefile | $(VENV_OK)
	@if ! command -v tshark >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing tshark (the packet-trace tests need it)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark; \
	  else \
	    echo "error: tshark is missing; install the Debian package tshark" >&2; exit 1; \
	  fi; \
	fi
	@# prometheus/promtool and prometheus-pushgateway: real servers for tests/test_metrics*.py.
	@if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus-pushgateway >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing prometheus and prometheus-pushgateway (the metrics tests need them)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      prometheus prometheus-pushgateway; \
	  else \
	    echo "error: install the Debian packages prometheus and prometheus-pushgateway" >&2; exit 1; \
	  fi; \
	fi
	@# chromium: opens report.html headless (tests/test_report_browser.py).
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (the HTML report tests need it)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "error: chromium is missing; install the Debian package chromium" >&2; exit 1; \
	  fi; \
	fi
	@touch $@

install: $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/roamsim run $(SCENARIO) -o $(RUN_DIR)
	@echo
	@echo "outputs are in $(RUN_DIR)/:"
	@ls -l $(RUN_DIR)

lint: $(STAMP_TEST)
	$(BIN)/ruff check .

# Settings come from pyproject.toml; the paths are listed here because mypy
# fails on a benchmarks/ folder that has no .py file yet.
MYPY_PATHS = src tests $(wildcard benchmarks/*.py)

typecheck: $(STAMP_TEST)
	$(BIN)/mypy $(MYPY_PATHS)

test-fast: $(STAMP_TEST) $(STAMP_DEBS)
	@mkdir -p $(dir $(JUNIT))
	$(BIN)/pytest -m "not slow" --junitxml=$(JUNIT) $(PYTEST_ARGS)

test: $(STAMP_DEBS) lint typecheck test-fast

test-slow: $(STAMP_TEST) $(STAMP_DEBS)
	@mkdir -p $(dir $(JUNIT))
	$(BIN)/pytest -m slow --junitxml=$(dir $(JUNIT))junit-slow.xml $(PYTEST_ARGS)

# Benchmarks run in their own venv: it also holds scapy (GPL), which only serves as
# a speed baseline there and is never a dependency of roamsim.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.stamp: pyproject.toml | $(VENV_OK)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip --disable-pip-version-check install -q -e '.[bench]' scapy
	@touch $@

bench: $(BENCH_VENV)/.stamp
	@set -e; for f in benchmarks/*.py; do echo "== $$f"; $(BENCH_VENV)/bin/python $$f; done

clean:
	rm -rf test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist src/*.egg-info

# Delivery targets (S3 upload tests, infrastructure checks, container, CI stages) live in mk/*.mk.
-include mk/*.mk
