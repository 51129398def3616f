# The two commands a newcomer needs: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_QUIET := --quiet --disable-pip-version-check
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export ST_WAREHOUSE_DIR ?= $(CURDIR)/data

.PHONY: install demo test lint dev bench bench-generation bench-rate-limit dbt-manifest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) --upgrade pip
	$(BIN)/pip install $(PIP_QUIET) -e '.[dev,sandbox]'
	touch $(STAMP)

install: $(STAMP)

## make demo: start the embedded sandbox tenant, run the main job, print what landed
demo: $(STAMP) dbt-manifest
	@mkdir -p $(DAGSTER_HOME) $(ST_WAREHOUSE_DIR)
	$(BIN)/st-demo $(if $(BACKEND),--backend $(BACKEND))

## make test: lint, types, then every test (sandbox over loopback, real DuckDB, Dagster, PostgreSQL)
test: $(STAMP) dbt-manifest
	$(BIN)/ruff check .
	$(BIN)/mypy st_contract st_sandbox st_resources st_assets
	$(BIN)/python -m pytest -q -n 3 -W ignore::DeprecationWarning


lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy st_contract st_sandbox st_resources st_assets

## make dev: the sandbox and the Dagster UI (http://127.0.0.1:3000) together; Ctrl-C stops both
dev: $(STAMP) dbt-manifest
	@mkdir -p $(DAGSTER_HOME) $(ST_WAREHOUSE_DIR)
	$(BIN)/st-dev

## make bench: throughput against the rate-limit floor and against dlt (writes benchmarks/RESULTS.md)
bench: $(STAMP)
	$(BIN)/pip install $(PIP_QUIET) -e '.[dev,sandbox,bench]'
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

## make bench-generation / bench-rate-limit: sandbox generation time; 429s of processes sharing a tenant
bench-generation: $(STAMP)
	$(BIN)/python -m benchmarks.sandbox_generation --customers 2000 10000 100000

bench-rate-limit: $(STAMP)
	$(BIN)/python -m benchmarks.rate_limit_processes --tenant-limit 20

## make dbt-manifest: parse dbt_models/ into dbt_models/target/manifest.json (the code location loads it)
dbt-manifest: $(STAMP)
	$(BIN)/python -m st_assets.defs.dbt.project

clean:
	rm -rf $(ST_WAREHOUSE_DIR) $(DAGSTER_HOME) dbt_models/target dbt_models/logs
