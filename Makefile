# Entry points for developers, operators and CI. Every target installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/layers/triage_core:$(CURDIR)/functions/api:$(CURDIR)

.PHONY: help venv browser run test test-unit model replay bench lint format clean-data

help:
	@echo "make run      start the whole system on embedded defaults (no Docker)"
	@echo "make test     install what the tests need and run them all"
	@echo "make model    retrain the model and rewrite ml_container/model/"
	@echo "make replay   post validation-cohort patients through the API (N=1000)"
	@echo "make bench    run the benchmarks in bench/"

$(STAMP): requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip check
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium for the Playwright tests; `playwright install` downloads
# its own browser build, which this project never does.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@chromium --version

run: venv
	$(PY) -m infra.local.run

test: venv browser
	$(PY) -m pytest

test-unit: venv
	$(PY) -m pytest tests/unit

model: venv
	$(PY) -m ml_container.training.train

N ?= 1000
replay: venv
	$(PY) -m infra.local.replay --rows $(N)

bench: venv
	$(PY) -m bench.run_all

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .

clean-data:
	rm -rf var/
