# The two front-door commands: `make run` (portal on the embedded sandbox) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never
ADDRPORT ?= 127.0.0.1:8000
SANDBOX_ARGS ?=
# Two processes on the 2-core machine; a test file stays on one (its module fixtures start once);
# files are handed out in collection order, slowest first (tests/conftest.py: SLOW_FILES_FIRST).
XDIST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder

.PHONY: help setup run test lint format chromium node-packages

help:
	@echo "make run     run the portal on the embedded AWS sandbox ($(ADDRPORT))"
	@echo "make test    lint, migration check, the whole suite (browser tests included) on SQLite,"
	@echo "             then again on a throw-away PostgreSQL server"
	@echo "make lint    ruff check and format check;  make format  to fix"

setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked
	@mkdir -p var

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# axe-core (pinned in package.json / package-lock.json) for the browser suite's accessibility checks.
node-packages:
	@command -v npm >/dev/null 2>&1 || { \
		echo "Installing Debian's nodejs and npm for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --no-audit --no-fund --silent

run: setup
	XACCT_SANDBOX=true DJANGO_DEBUG=true $(UV) run --locked python manage.py sandbox --addrport $(ADDRPORT) $(SANDBOX_ARGS)

lint: setup
	$(UV) run --locked ruff check .
	$(UV) run --locked ruff format --check .

format: setup
	$(UV) run --locked ruff check --fix .
	$(UV) run --locked ruff format .

test: setup chromium node-packages lint
	DJANGO_DEBUG=true $(UV) run --locked python manage.py makemigrations --check --dry-run
	@echo "== the whole suite on SQLite and, at the same time, on PostgreSQL (browser tests included: the sandbox portal uses it too) =="
	DJANGO_DEBUG=true scripts/on-both-databases $(UV) run --locked pytest $(XDIST_ARGS) $(PYTEST_ARGS)
