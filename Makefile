# Every target creates or refreshes .venv itself: a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export GX_ANALYTICS_ENABLED := False
export DO_NOT_TRACK := 1

.PHONY: venv lock audit manifest demo test test-deploy podman test-faults soak unit integration e2e lint format up down status bench bench-read clean nginx kubectl wrk check-deploy promtool alert-rules k8s-local-keys

venv: $(STAMP)

# Installed from the hashed lock (every package pinned, every file checked against its hash),
# then the project itself without resolving anything. `make lock` redoes the locks after a
# change of pyproject.toml's dependencies; a unit test fails while they are stale.
LOCKS := requirements/service.lock requirements/pipeline.lock requirements/dev.lock
$(STAMP): pyproject.toml requirements/dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# One lock per install: the service image (the core), the pipeline image (core + `pipeline`),
# and development (every extra, what `make venv` installs). The image locks take their
# versions from the development lock, so the three never disagree on a shared package.
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
  --universal --quiet
lock: $(STAMP)
	$(UV_COMPILE) --extra dev -o requirements/dev.lock
	$(UV_COMPILE) -c requirements/dev.lock -o requirements/service.lock
	$(UV_COMPILE) --extra pipeline -c requirements/dev.lock -o requirements/pipeline.lock

# Known vulnerabilities of the locked set (needs the network, so not part of `make test`);
# --strict: a package whose vulnerability data cannot be fetched fails the audit.
# The development lock holds every package of both images, at the images' versions.
audit: $(STAMP)
	$(BIN)/pip-audit --strict --require-hashes --disable-pip --progress-spinner off \
	  -r requirements/dev.lock

# The dbt manifest the DAGs render from (pipeline/tasks/dbt.py): `dbt parse`, no database,
# redone when the dbt project changes. Importing a DAG needs it, so the test targets make it.
MANIFEST := dbt_project/target/parsed/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o \
  -path dbt_project/logs -prune -o -type f -print)
manifest: $(MANIFEST)

$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/python -c "from config.settings import Settings; \
	  from pipeline.tasks.dbt import build_manifest; build_manifest(Settings())"

demo: $(STAMP)
	$(BIN)/cqrsw demo

# The long fault suite is deselected here: `make test-faults` runs it.
test: lint alert-rules $(STAMP) $(MANIFEST) nginx kubectl
	$(BIN)/python -m pytest -m 'not long'

# promtool (and the prometheus binary `make up` runs) come from Debian's `prometheus` package.
promtool:
	@command -v promtool >/dev/null || apt-get install -y --no-install-recommends prometheus \
	  || { apt-get update && apt-get install -y --no-install-recommends prometheus; }

# Every alert rule is checked, and unit-tested to fire and to resolve.
alert-rules: promtool
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts.test.yml

# Every fault alone, then all together, under load (make test runs the short version).
test-faults: $(STAMP) $(MANIFEST)
	$(BIN)/python -m pytest -m faults -v

# Ten minutes of load while Airflow publishes continuously and every fault strikes once at a
# seeded random time (stack supervised); adds its figures to docs/benchmarks.md.
SOAK_ARGS ?= --rate 20 --duration 600
soak: $(STAMP) $(MANIFEST)
	$(BIN)/python -m bench.soak --write $(SOAK_ARGS)

unit: $(STAMP) $(MANIFEST)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP) $(MANIFEST) nginx
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP) $(MANIFEST)
	$(BIN)/python -m pytest -m 'not long' tests/e2e

# docker-compose.yml and deploy/k8s checked offline (compose-spec schema, kustomize render,
# kubernetes-validate, settings): no Docker engine or cluster needed.
check-deploy: $(STAMP) kubectl
	$(BIN)/python -m pytest tests/deploy

# The local Kubernetes overlay's event keys (git-ignored, made once, kept): one private key
# per write service and their public keys, which the overlay turns into a Secret and a ConfigMap.
k8s-local-keys: $(STAMP)
	$(BIN)/cqrsw event-keys folder deploy/k8s/overlays/local/event-keys

# docker-compose.yml and the local Kubernetes overlay run in real containers with podman:
# stand-in images for what cannot be pulled (deploy/standins), the compose stack started and
# a user's journey driven through its gateway, the overlay's pods run with `podman kube play`,
# everything removed afterwards. Images are built once and reused. Not part of `make test`.
# podman-compose is a tool of this target only, pinned, in its own venv (not in the locks).
PODMAN_COMPOSE := $(VENV)/tools/podman-compose/bin/podman-compose
$(PODMAN_COMPOSE):
	$(PYTHON) -m venv $(VENV)/tools/podman-compose
	$(VENV)/tools/podman-compose/bin/python -m pip install --quiet 'podman-compose==1.6.0'

test-deploy: $(STAMP) podman kubectl $(PODMAN_COMPOSE)
	CQRSW_DEPLOY_RUN=1 CONTAINERS_CONF=$(CURDIR)/deploy/podman/containers.conf \
	  PODMAN_COMPOSE=$(CURDIR)/$(PODMAN_COMPOSE) $(BIN)/python -m pytest tests/deploy_run -v -x -s

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

up: $(STAMP) nginx promtool
	$(BIN)/cqrsw stack up --services --airflow --gateway --prometheus

down: $(STAMP)
	$(BIN)/cqrsw stack down

status: $(STAMP)
	$(BIN)/cqrsw stack status

# Benchmarks start their own throwaway engines on free ports; each prints its ratio last.
bench: $(STAMP)
	$(BIN)/python -m bench.stock_rebuild
	$(BIN)/python -m bench.dbt_incremental
	$(BIN)/python -m bench.trace_links

# CQRS read vs the BFF vs a constant's ceiling, 1M orders (about 10 min on 2 shared cores).
READ_ARGS ?=
bench-read: $(STAMP) wrk
	$(BIN)/python -m bench.read_latency $(READ_ARGS)

# Debian packages the project uses, installed only when missing and only where it can (root
# with apt-get): nginx is the local API gateway (its test and `make up`); kubectl renders
# deploy/k8s with its built-in kustomize for the manifest tests. Without them `make up` says
# the gateway is skipped, and the tests that need them fail saying what is missing.
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y --no-install-recommends nginx || \
	     (apt-get update && apt-get install -y --no-install-recommends nginx)) >/dev/null; \
	  else echo "nginx is not installed and cannot be installed here: the gateway is skipped"; fi; }

# wrk drives bench/read_latency.py (the bench also installs it itself when missing).
wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y --no-install-recommends wrk || \
	     (apt-get update && apt-get install -y --no-install-recommends wrk)) >/dev/null; \
	  else echo "wrk is not installed and cannot be installed here: bench-read cannot run"; fi; }

# podman with runc (crun fails where cgroups are in hybrid mode), netavark and iptables for
# bridge networks, mmdebstrap for the base image; settings in deploy/podman/containers.conf.
PODMAN_PACKAGES := podman runc netavark aardvark-dns iptables catatonit mmdebstrap
podman:
	@for tool in podman runc netavark iptables catatonit mmdebstrap; do \
	  command -v $$tool >/dev/null || test -x /usr/lib/podman/$$tool || { missing=1; break; }; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y --no-install-recommends $(PODMAN_PACKAGES) || \
	     (apt-get update && apt-get install -y --no-install-recommends $(PODMAN_PACKAGES))) >/dev/null; \
	  else echo "podman is not installed and cannot be installed here: $(PODMAN_PACKAGES)"; exit 1; fi; fi

kubectl:
	@command -v kubectl >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y --no-install-recommends kubernetes-client || \
	     (apt-get update && apt-get install -y --no-install-recommends kubernetes-client)) >/dev/null; \
	  else echo "kubectl is not installed and cannot be installed here: deploy/k8s is not rendered"; fi; }

clean: down
	rm -rf .cqrsw dbt_project/target dbt_project/logs
