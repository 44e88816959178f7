"""Render the Data Docs after every publication of the serving views."""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetAny, dag

from config.settings import Settings
from pipeline.tasks.alerts import on_task_failure
from pipeline.tasks.assets import SERVING_VIEWS
from pipeline.tasks.gate_and_publish import render_data_docs
from pipeline.tasks.limits import time_limits
from pipeline.tasks.retries import retry_args

SETTINGS = Settings()


@dag(
    schedule=AssetAny(*SERVING_VIEWS.values()),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["cqrs-warehouse", "quality"],
    default_args={**retry_args(), **time_limits(SETTINGS), "on_failure_callback": on_task_failure},
)
def data_docs() -> None:
    """Render the Great Expectations results of the gate that let the views through as Data
    Docs (an HTML site), once a `publish` task (of `cqrs_warehouse_pipeline` or
    `rebuild_views`) has updated the serving views.

    Outside the pipeline's run on purpose: nobody reading the views waits for the pages, and
    the pipeline's next run does not wait for them either. A failed gate renders its pages
    itself before it fails its run.
    """
    render_data_docs()


data_docs()
