# Entry points for developers and CI. Services and base images are (re)created idempotently, so
# every target can be rerun at will; see scripts/ for what each step checks.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# Steps depend on each other's side effects (services before images), never run them in parallel.
.NOTPARALLEL:

PYTHON ?= python3
VENV := .venv

.PHONY: venv services base-images run test lint verifiers

venv:
	@# A fresh Debian has python3 without ensurepip (it lives in python3-venv).
	@if [ ! -x $(VENV)/bin/python ] && ! $(PYTHON) -c 'import ensurepip' 2>/dev/null && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l; \
	  apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null; \
	fi
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	@# The stamp keeps reruns instant; editing pyproject.toml triggers a reinstall.
	@if [ ! -e $(VENV)/.installed ] || [ pyproject.toml -nt $(VENV)/.installed ]; then \
	  echo "venv      installing .[test,bench] into $(VENV)"; \
	  $(VENV)/bin/pip install -q -e '.[test,bench]' && touch $(VENV)/.installed; \
	else echo "venv      up to date"; fi

services:
	scripts/ensure-services.sh

base-images: venv
	scripts/make-base-images.sh

run: venv services base-images
	$(VENV)/bin/python manage.py migrate --noinput
	$(VENV)/bin/python manage.py signing_key ensure
	$(VENV)/bin/python manage.py load_starter_catalog
	$(VENV)/bin/python manage.py ensure_admin
	scripts/run-portal.sh

# The layout's contracts (pyproject.toml: layers, the door into compliance, docker in one adapter,
# pure cores without Django) and a small ruff rule set; both fail `make test`.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Independent verifiers the tests run on what the portal signs (sigstore's JavaScript verifier):
# Node.js from Debian when the machine has none, the packages from the lock file.
verifiers:
	@if ! command -v npm >/dev/null && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l; \
	  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; \
	fi
	@if [ ! -e tests/verifiers/node_modules/.installed ] || [ tests/verifiers/package-lock.json -nt tests/verifiers/node_modules/.installed ]; then \
	  echo "verifiers installing tests/verifiers (npm ci)"; \
	  npm ci --prefix tests/verifiers --no-audit --no-fund --loglevel=error && touch tests/verifiers/node_modules/.installed; \
	else echo "verifiers up to date"; fi

# Tests run against PostgreSQL and Redis rather than the embedded SQLite/file-broker defaults,
# so what CI checks is what production uses; both URLs can be overridden from the environment.
# The slowest tests are listed after each run: the suite is kept under about 20 minutes on 2 cores.
PYTEST_ARGS ?= --durations=25

test: venv lint verifiers
	scripts/ensure-services.sh --with-db --with-browser
	scripts/make-base-images.sh
	export DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/portal}"; \
	export CELERY_BROKER_URL="$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}"; \
	$(VENV)/bin/pytest $(PYTEST_ARGS)
