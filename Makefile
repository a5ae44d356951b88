# Entry points for developers, operators and CI. Every target installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/layers/triage_core:$(CURDIR)/functions/api:$(CURDIR)

.PHONY: help venv system-packages run test test-unit model replay bench lint format clean-data

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

# Debian packages the tests use: Chromium for the Playwright tests (`playwright
# install` downloads its own browser build, which this project never does) and
# nginx, whose `nginx -t` checks the compose frontend's configuration.
SYSTEM_PACKAGES := chromium nginx
system-packages:
	@missing=""; for cmd in chromium nginx; do command -v $$cmd >/dev/null || missing="$$missing $$cmd"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	fi
	@chromium --version

run: venv
	$(PY) -m infra.local.run

test: venv system-packages
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
