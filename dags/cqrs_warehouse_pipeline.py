"""Warehouse pipeline: ingest, dbt build, quality gate, publish, record freshness."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from config.settings import Settings
from pipeline.tasks.alerts import on_task_failure
from pipeline.tasks.dbt import watched_dbt_build
from pipeline.tasks.gate_and_publish import check_and_publish
from pipeline.tasks.ingest import ingest_or_skip
from pipeline.tasks.limits import time_limits
from pipeline.tasks.retries import retry_args

SETTINGS = Settings()


@dag(
    schedule=SETTINGS.pipeline_schedule,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=SETTINGS.pipeline_catchup,
    max_active_runs=1,
    tags=["cqrs-warehouse"],
    default_args={**retry_args(), **time_limits(SETTINGS), "on_failure_callback": on_task_failure},
)
def cqrs_warehouse_pipeline() -> None:
    """Ingest the topics into raw tables, build the marts with one `dbt build` (a task per
    model and its tests shows its result once it is done), check the raw tables (beside the
    build) and the marts with Great Expectations, then publish the marts to the serving schema
    the read API reads and record how fresh they are.

    Continuous by default: a run starts when the previous one ends and waits in `ingest`
    for new events; with nothing new, it skips the rest. Events that arrive
    during a run are left for the next one, and only one run is ever active.

    A failed check stops the run before `publish`: the serving views stay as they were and
    an alert is raised. Only an unreachable broker or database is retried.
    """
    ingest = ingest_or_skip(SETTINGS)
    dbt_build, producer = watched_dbt_build(SETTINGS, "dbt_build")
    validate_raw, validate_marts = check_and_publish()
    ingest >> [dbt_build, validate_raw]
    producer >> validate_marts


cqrs_warehouse_pipeline()
