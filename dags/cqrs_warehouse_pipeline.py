"""Warehouse pipeline: ingest, dbt build, quality gate, publish, record freshness."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from cqrsw import pipeline
from cqrsw.alerts import on_task_failure
from cqrsw.assets import SERVING_VIEWS, describe_publication
from cqrsw.dbt_tasks import dbt_task_group
from cqrsw.retries import retry_args
from services.settings import Settings

SETTINGS = Settings()


@dag(
    schedule=SETTINGS.pipeline_schedule,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=SETTINGS.pipeline_catchup,
    max_active_runs=1,
    tags=["cqrs-warehouse"],
    default_args={**retry_args(), "on_failure_callback": on_task_failure},
)
def cqrs_warehouse_pipeline() -> None:
    """Ingest the topics into raw tables, build the marts with dbt (a task per model and its
    tests), check raw tables and marts with Great Expectations, then publish the marts to the
    serving schema the read API reads and record how fresh they are.

    A failed check stops the run before `publish`: the serving views stay as they were and
    an alert is raised. Only an unreachable broker or database is retried.
    """

    @task
    def ingest() -> dict[str, Any]:
        return pipeline.ingest_step(Settings())

    @task
    def validate() -> dict[str, Any]:
        return pipeline.validate_step(Settings())

    @task(outlets=SERVING_VIEWS)
    def publish() -> dict[str, int]:
        published = pipeline.publish_step(Settings())
        describe_publication(get_current_context()["outlet_events"], published)
        return published

    @task
    def record_freshness() -> dict[str, Any]:
        ti = get_current_context()["ti"]
        published = ti.xcom_pull(task_ids="publish")
        return pipeline.record_freshness_step(Settings(), published, ti.dag_id, ti.run_id)

    published = publish()
    ingest() >> dbt_task_group(SETTINGS, "dbt_build") >> validate() >> published
    published >> record_freshness()


cqrs_warehouse_pipeline()
