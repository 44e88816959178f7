"""Warehouse pipeline: ingest the Kafka topics into raw tables, then build the views with dbt."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

SCHEDULE = os.environ.get("CQRSW_PIPELINE_SCHEDULE", "*/5 * * * *")


@dag(
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["cqrs-warehouse"],
    default_args={"retries": 0},
)
def cqrs_warehouse_pipeline() -> None:
    """Ingest -> dbt build -> publish.

    One run reads each partition up to the end offset seen at its start. Publish runs only
    when every model and test passed: when a check fails, readers keep the last good views.
    """

    @task(retries=3, retry_delay=timedelta(seconds=20), retry_exponential_backoff=True)
    def ingest() -> dict[str, Any]:
        from cqrsw.pipeline import ingest_step
        from services.settings import Settings

        return ingest_step(Settings())

    @task
    def dbt_build() -> None:
        from cqrsw.pipeline import dbt_build_step
        from services.settings import Settings

        dbt_build_step(Settings())

    @task
    def publish() -> dict[str, int]:
        from cqrsw.pipeline import publish_step
        from services.settings import Settings

        return publish_step(Settings())

    ingest() >> dbt_build() >> publish()


cqrs_warehouse_pipeline()
