"""Warehouse pipeline: ingest, dbt build, quality gate, publish, record freshness."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from config.settings import Settings
from pipeline import steps as pipeline
from pipeline.tasks.alerts import on_task_failure
from pipeline.tasks.dbt import dbt_task_group
from pipeline.tasks.gate_and_publish import check_and_publish, run_of
from pipeline.tasks.limits import ingest_timeout, time_limits
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
    """Ingest the topics into raw tables, build the marts with dbt (a task per model and its
    tests), check raw tables and marts with Great Expectations, then publish the marts to the
    serving schema the read API reads and record how fresh they are.

    A failed check stops the run before `publish`: the serving views stay as they were and
    an alert is raised. Only an unreachable broker or database is retried.
    """

    @task(execution_timeout=ingest_timeout(SETTINGS))
    def ingest() -> dict[str, Any]:
        return pipeline.ingest_step(Settings(), run_of(get_current_context()))

    ingest() >> dbt_task_group(SETTINGS, "dbt_build") >> check_and_publish()


cqrs_warehouse_pipeline()
