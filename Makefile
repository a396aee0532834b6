# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Services used by the second CI pass; override to point elsewhere.
SERVICES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/taper
SERVICES_BROKER_URL ?= redis://127.0.0.1:6379/5

.PHONY: run test test-clock-ahead test-services lint typecheck check-deploy clean load fault-drill

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## Run the whole site with demo data: web on http://127.0.0.1:8000, a Celery worker and beat.
run: $(VENV)/.installed
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py push_dev_keys
	DEBUG=1 $(BIN)/honcho --procfile Procfile.dev start

## Run every check: ruff, mypy, the apps' layering (lint-imports) and the whole pytest
## suite (tests needing PostgreSQL, Redis, node or chromium are deselected here and run
## by `make test-services`).
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not services and not external and not browser"

## The fast suite again with the process clock 400 days ahead (Debian's faketime): a test
## that escapes the suite's frozen clock (tests/support/clock.py) fails the day it is written.
test-clock-ahead: $(VENV)/.installed-dev
	faketime -f '+400d' $(BIN)/pytest -q -m "not services and not external and not browser"

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

## The whole suite against PostgreSQL and Redis on 127.0.0.1, including the tests that need
## them, Debian's chromium (/usr/bin/chromium) or node with ical.js.
test-services: $(VENV)/.installed-dev node_modules/.installed
	DATABASE_URL=$(SERVICES_DATABASE_URL) CELERY_BROKER_URL=$(SERVICES_BROKER_URL) \
		$(BIN)/pytest

## Load test: gunicorn (2 workers, DEBUG=0) on PostgreSQL, 50 wrk connections per target;
## sets up and drops its own database (taper_load). Needs wrk (apt-get install wrk).
load: $(VENV)/.installed-dev
	$(BIN)/python ops/load_test.py

DRILL_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/taper_drill
DRILL_BROKER_URL ?= redis://127.0.0.1:6379/8

## Fault drill: kill the worker, restart Redis, restart PostgreSQL while reminders are
## dispatched (restarts this machine's services; docs/reliability.md). Its own database.
fault-drill: $(VENV)/.installed
	psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'taper_drill'" \
		| grep -q 1 || createdb -h 127.0.0.1 -U postgres taper_drill
	DATABASE_URL=$(DRILL_DATABASE_URL) DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DATABASE_URL=$(DRILL_DATABASE_URL) CELERY_BROKER_URL=$(DRILL_BROKER_URL) DEBUG=1 \
		LOG_LEVEL=WARNING $(BIN)/python -m ops fault_drill

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
