# The project's single entry point. `make run` and `make test` work on a fresh machine with
# python3 (3.11+), npm and make: they create .venv and node_modules themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
ARGS ?=

.PHONY: run test lint typecheck gen clean

$(PY_STAMP): pyproject.toml api/python/pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --editable api/python --editable '.[dev]' --editable clients/python
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Set up and run the gateway in paper mode on the embedded Kite simulator (extra flags: make run ARGS="--listen 0.0.0.0:50051").
run: $(PY_STAMP)
	$(BIN)/kite-gateway serve --paper $(ARGS)

## Set up and run every check: lint, types, generated-code freshness, buf, and the test suite.
test: $(PY_STAMP) $(NPM_STAMP) lint typecheck
	$(BIN)/python -m pytest

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(PY_STAMP)
	$(BIN)/mypy

## Regenerate api/python/kite_gateway_api/v1 (code and openapi.json) from protos/ after changing a .proto file.
gen: $(PY_STAMP)
	$(BIN)/python scripts/gen_protos.py
	$(BIN)/python scripts/gen_openapi.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
