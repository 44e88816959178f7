# One image for every Python component: the write services, the read API, the ingest job and
# the Airflow components. The role is the first argument at run time:
#   docker run IMAGE orders | invoices | stock | read-api | init | airflow scheduler | cqrsw ...
# The base image is pinned to a patch release; `docker build --build-arg PYTHON_IMAGE=...`
# (e.g. with an @sha256 digest) pins it harder.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VIRTUAL_ENV=/opt/venv
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p config && touch config/__init__.py \
    && pip install . && pip uninstall -y cqrs-warehouse && rm -rf config build *.egg-info
COPY . .
# Editable: the code finds dbt_project/ and dags/ beside it, as in a checkout.
RUN pip install --no-deps -e .

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
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# dbt writes target/ and logs/ beside the project; everything else goes to CQRSW_STATE_DIR.
RUN mkdir -p /app/dbt_project/target /app/dbt_project/logs \
    && chown -R cqrsw:cqrsw /app/dbt_project/target /app/dbt_project/logs /var/lib/cqrsw
WORKDIR /app
USER 10001:10001
# The dbt manifest the DAGs render from (no database needed), so Airflow pods start ready.
RUN python -c "from config.settings import Settings; from pipeline.tasks.dbt import build_manifest; build_manifest(Settings())"
VOLUME ["/var/lib/cqrsw"]
EXPOSE 8000 8001 8002 8003 8080
ENTRYPOINT ["python", "-m", "cqrsw.container"]
CMD ["--help"]
