# Two images from one file, each with the role chosen at run time (python -m cqrsw.container):
#   service   the write services, the read API and the pipeline exporter: the core
#             dependencies only (no Airflow, dbt, Cosmos, Great Expectations or embedded engines)
#             docker build --target service -t cqrs-warehouse-service:0.1.0 .
#             docker run IMAGE orders | invoices | stock | read-api | metrics
#   pipeline  the init job, the Airflow components and their task pods: the core plus the
#             `pipeline` extra (Airflow, dbt, Cosmos, Great Expectations, the Kubernetes
#             executor and FAB auth manager providers) and the parsed dbt manifest
#             docker build --target pipeline -t cqrs-warehouse-pipeline:0.1.0 .
#             docker run IMAGE init | airflow scheduler | cqrsw ...
# A build without --target gives the pipeline image, which can also run every service role.
# The base image is pinned to a patch release; `docker build --build-arg PYTHON_IMAGE=...`
# (e.g. with an @sha256 digest, or a local image where the registry cannot be reached) pins
# it harder.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Dependencies first, from the lock alone, so a code change does not reinstall them.
FROM ${PYTHON_IMAGE} AS build-service
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VIRTUAL_ENV=/opt/venv
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Every package pinned and checked against its hash (requirements/, `make lock`).
COPY requirements/service.lock ./requirements/
RUN pip install --require-hashes -r requirements/service.lock
COPY . .
# Editable: the code finds dbt_project/ and dags/ beside it, as in a checkout.
RUN pip install --no-deps -e .

FROM ${PYTHON_IMAGE} AS build-pipeline
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VIRTUAL_ENV=/opt/venv
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY requirements/pipeline.lock ./requirements/
RUN pip install --require-hashes -r requirements/pipeline.lock
COPY . .
RUN pip install --no-deps -e .

# What both images share: the user, the state folder, no telemetry leaving the machine.
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CQRSW_STATE_DIR=/var/lib/cqrsw \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    GX_ANALYTICS_ENABLED=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    SCARF_ANALYTICS=false \
    DO_NOT_TRACK=1
RUN groupadd --system --gid 10001 cqrsw \
    && useradd --system --uid 10001 --gid cqrsw --home-dir /var/lib/cqrsw --create-home cqrsw
WORKDIR /app
ENTRYPOINT ["python", "-m", "cqrsw.container"]
CMD ["--help"]

FROM runtime AS service
COPY --from=build-service /opt/venv /opt/venv
COPY --from=build-service /app /app
USER 10001:10001
VOLUME ["/var/lib/cqrsw"]
EXPOSE 8000 8001 8002 8003 9108

FROM runtime AS pipeline
COPY --from=build-pipeline /opt/venv /opt/venv
COPY --from=build-pipeline /app /app
# dbt writes target/ and logs/ beside the project; everything else goes to CQRSW_STATE_DIR.
RUN mkdir -p /app/dbt_project/target /app/dbt_project/logs \
    && chown -R cqrsw:cqrsw /app/dbt_project/target /app/dbt_project/logs
USER 10001:10001
# The dbt manifest the DAGs render from (no database needed), so Airflow pods start ready.
RUN python -c "from config.settings import Settings; from pipeline.tasks.dbt import build_manifest; build_manifest(Settings())"
VOLUME ["/var/lib/cqrsw"]
EXPOSE 8080 8793
