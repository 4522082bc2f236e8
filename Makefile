# The project's single entry point. `make run` and `make test` work on a fresh machine with
# python3 (3.11+), npm and make: they create .venv and node_modules themselves.
#
# Three stamps, so each command installs only what it lacks: `make run` installs what running and
# calling the gateway need (the server, the API stubs, the Python client, and the buf CLI for the
# ops guide); `make test` adds the dev extra (generator, linters, type checker, test runner) on top.
# `make test` after `make run` installs only the dev extra; `make run` after `make test` installs
# nothing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
NPM_STAMP := node_modules/.installed
PROJECTS := pyproject.toml api/python/pyproject.toml clients/python/pyproject.toml
ARGS ?=

.PHONY: run test test-postgres browser bench lint typecheck gen clean

$(RUN_STAMP): $(PROJECTS)
	@echo "==> kite-gateway: creating $(VENV) and installing what running needs (server, API stubs, Python client)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --editable api/python --editable . --editable clients/python
	touch $@

$(DEV_STAMP): $(RUN_STAMP) $(PROJECTS)
	@echo "==> kite-gateway: installing the development tools into $(VENV) (code generator, ruff, mypy, pytest)"
	$(BIN)/python -m pip install --disable-pip-version-check --editable '.[dev]'
	touch $@

$(NPM_STAMP): package.json package-lock.json
	@echo "==> kite-gateway: installing the buf CLI from npm into node_modules (npm ci)"
	npm ci --no-audit --no-fund
	touch $@

## Set up and run the gateway in paper mode on the embedded Kite simulator
## (extra flags: make run ARGS="--log-format console"; README "Two commands" shows --listen 0.0.0.0).
run: $(RUN_STAMP) $(NPM_STAMP)
	$(BIN)/kite-gateway serve --paper $(ARGS)

# The suite on one worker per core (pytest-xdist), a test file per worker at a time: the files'
# module fixtures stay shared, and every server a test starts listens on a free port of its own.
PARALLEL := -n auto --dist loadfile

# The order path end to end again on the PostgreSQL backend (the whole suite: make test-postgres).
POSTGRES_TESTS := tests/e2e/test_orders.py tests/e2e/test_order_faults.py tests/e2e/test_order_updates.py \
	tests/e2e/test_crash.py tests/e2e/test_risk.py tests/e2e/test_accounts.py

## Set up and run every check: lint, types, generated-code freshness, buf, and the test suite
## (on SQLite, then the order path on PostgreSQL; PostgreSQL and NATS are started by the tests).
test: $(DEV_STAMP) $(NPM_STAMP) browser lint typecheck
	$(BIN)/python -m pytest $(PARALLEL)
	KITE_GATEWAY_TEST_BACKEND=postgres $(BIN)/python -m pytest $(PARALLEL) $(POSTGRES_TESTS)

## The whole test suite with the gateway's state in PostgreSQL instead of SQLite.
test-postgres: $(DEV_STAMP) $(NPM_STAMP) browser
	KITE_GATEWAY_TEST_BACKEND=postgres $(BIN)/python -m pytest $(PARALLEL)

## Chromium for the browser test of the report pages (tests/report_render/test_browser.py): the Debian
## package, installed with apt-get when `chromium` is missing (as root, else with sudo). Without apt-get
## it says so and goes on: the test then skips, except under CI=true, where it fails.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "==> kite-gateway: no chromium and no apt-get: install Chromium for the browser test"; exit 0; fi; \
	  echo "==> kite-gateway: installing Chromium (apt-get) for the report pages' browser test"; \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

## Every benchmark of issue 17 and the single-process ones before it, each printing its ratios against
## a reference measured in the same run (bench/RESULTS.md says what each measures and what it gave);
## about 40 minutes with the 10-minute memory soak (SOAK=0 leaves it out). The clustered mode's
## (bench/failover.py, cluster_cost.py, accounts_per_replica.py) start PostgreSQL and NATS: run them alone.
SOAK ?= 600
bench: $(DEV_STAMP)
	$(BIN)/python bench/decoder_bench.py
	$(BIN)/python bench/gateway_bench.py
	$(BIN)/python bench/order_bench.py
	$(BIN)/python bench/streaming_bench.py
	$(BIN)/python bench/tick_encoding_bench.py
	$(BIN)/python bench/simulator_bench.py
	$(BIN)/python bench/report_bench.py
	$(BIN)/python bench/signal_bench.py
	if [ "$(SOAK)" != 0 ]; then $(BIN)/python bench/streaming_bench.py --soak $(SOAK); fi

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

## Regenerate api/python/kite_gateway_api/v1 (code and openapi.json) from protos/ after changing a .proto file.
gen: $(DEV_STAMP)
	$(BIN)/python scripts/gen_protos.py
	$(BIN)/python scripts/gen_openapi.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
