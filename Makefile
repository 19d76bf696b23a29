# onemap — the two commands a newcomer types: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_PACKAGES := python3-venv postgresql-15 postgresql-15-postgis-3
TEST_PACKAGES := $(DEMO_PACKAGES) chromium fonts-noto-cjk

.PHONY: demo test lint format bench serve db-start db-stop clean

demo: $(VENV)/.installed ## install what is missing, start PostGIS, load demo data, serve :8050
	@.ci/system-packages $(DEMO_PACKAGES)
	$(BIN)/onemap demo

test: $(VENV)/.installed-dev ## lint, then the whole suite on a real PostGIS and Debian chromium
	@.ci/system-packages $(TEST_PACKAGES)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-bench ## speed goals, printed as a table
	@.ci/system-packages $(TEST_PACKAGES)
	$(BIN)/python -m bench

serve: $(VENV)/.installed
	$(BIN)/onemap serve

db-start: $(VENV)/.installed
	$(BIN)/onemap db start

db-stop: $(VENV)/.installed
	$(BIN)/onemap db stop

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "onemap needs Python >= 3.11")'
	@[ -x $(BIN)/python ] || { .ci/system-packages python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q -e .
	@touch $@

# The test, lint and bench tools: `make demo` does without them (a fresh clone serves sooner).
$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# tipg, the peer of the vector-tile benchmark.
$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@touch $@

clean:
	-$(BIN)/onemap db stop
	rm -rf .onemap test-artifacts .pytest_cache .mypy_cache .ruff_cache
