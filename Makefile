# Every target creates or refreshes .venv itself: a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export GX_ANALYTICS_ENABLED := False
export DO_NOT_TRACK := 1

.PHONY: venv demo test unit integration e2e lint format up down status bench clean promtool alert-rules

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cqrsw demo

test: lint alert-rules $(STAMP)
	$(BIN)/python -m pytest

# promtool (and the prometheus binary `make up` runs) come from Debian's `prometheus` package.
promtool:
	@command -v promtool >/dev/null || apt-get install -y --no-install-recommends prometheus \
	  || { apt-get update && apt-get install -y --no-install-recommends prometheus; }

# Every alert rule is checked, and unit-tested to fire and to resolve.
alert-rules: promtool
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts.test.yml

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

up: $(STAMP) promtool
	$(BIN)/cqrsw stack up --services --airflow --prometheus

down: $(STAMP)
	$(BIN)/cqrsw stack down

status: $(STAMP)
	$(BIN)/cqrsw stack status

# Benchmarks start their own throwaway engines on free ports; each prints its ratio last.
bench: $(STAMP)
	$(BIN)/python -m bench.stock_rebuild
	$(BIN)/python -m bench.dbt_incremental
	$(BIN)/python -m bench.trace_links

clean: down
	rm -rf .cqrsw dbt_project/target dbt_project/logs
