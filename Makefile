# Every target creates or refreshes .venv itself: a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export GX_ANALYTICS_ENABLED := False
export DO_NOT_TRACK := 1

.PHONY: venv demo test test-faults soak unit integration e2e lint format up down status bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cqrsw demo

test: lint $(STAMP)
	$(BIN)/python -m pytest

# Every fault alone, then all together, under load (make test runs the short version).
test-faults: $(STAMP)
	CQRSW_FAULT_SUITE=1 $(BIN)/python -m pytest tests/e2e/test_faults.py -v

# Steady load while the pipeline runs pass after pass; appends its figures to docs/benchmarks.md.
SOAK_ARGS ?= --rate 20 --duration 180
soak: $(STAMP)
	$(BIN)/python -m bench.soak --write $(SOAK_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

up: $(STAMP)
	$(BIN)/cqrsw stack up --services --airflow

down: $(STAMP)
	$(BIN)/cqrsw stack down

status: $(STAMP)
	$(BIN)/cqrsw stack status

# Benchmarks start their own throwaway engines on free ports; each prints its ratio last.
bench: $(STAMP)
	$(BIN)/python -m bench.stock_rebuild
	$(BIN)/python -m bench.dbt_incremental

clean: down
	rm -rf .cqrsw dbt_project/target dbt_project/logs
