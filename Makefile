# The two commands of the README, and the few things behind them.
#   make demo   set up, then run the dashboard on SQLite against the sandbox Talkdesk
#   make test   set up, then run the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
# Django 6 needs Python 3.12+: prefer an explicit python3.12/3.13 (pyenv shims included).
PYTHON ?= $(shell for p in python3.12 python3.13 python3.14 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; done)

# Test settings: production-like (DEBUG off), with throwaway secrets and plain-HTTP cookies
# because the test servers listen on http://127.0.0.1.
TEST_ENV := ENV_FILE= DEBUG=false SECRET_KEY=test-secret-key-not-for-production \
	TOKEN_ENCRYPTION_KEYS=dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY=,b2xkLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmNkZWYwMTI= \
	SECURE_SSL_REDIRECT=false SECURE_COOKIES=false SECURE_HSTS_SECONDS=0

.PHONY: help demo test setup test-setup browser lint bench clean
help:
	@echo "make demo   # set up and run Casebook on http://127.0.0.1:8000 (SQLite + sandbox Talkdesk)"
	@echo "make test   # set up and run the whole test suite"
	@echo "make bench  # run the benchmarks and write docs/benchmarks.md"

$(PY):
	@test -n "$(PYTHON)" || { echo "Casebook needs Python 3.12 or newer (python3.12 not found)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

setup: $(PY)
	$(PY) -m pip install --quiet -e .
	$(PY) -m dashboard.demo_env .env

test-setup: $(PY)
	$(PY) -m pip install --quiet -e '.[test]'

# Debian's Chromium for the browser tests (Playwright's own download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		$$(command -v sudo) apt-get update -qq && $$(command -v sudo) apt-get install -y -qq chromium >/dev/null; }

demo: setup
	$(PY) manage.py demo

# collectstatic first: the tests run the production static pipeline (hashed, compressed).
test: test-setup browser
	$(TEST_ENV) $(PY) manage.py collectstatic --noinput --clear -v0
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

lint: test-setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(TEST_ENV) $(PY) -m mypy dashboard

bench: test-setup
	$(TEST_ENV) $(PY) -m dashboard.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles test-db.sqlite3* *.egg-info
