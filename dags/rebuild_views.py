"""Rebuild the marts from the raw event log and publish them if every check passes."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from config.settings import Settings
from pipeline.tasks.alerts import on_task_failure
from pipeline.tasks.dbt import dbt_task_group
from pipeline.tasks.gate_and_publish import check_and_publish
from pipeline.tasks.limits import time_limits
from pipeline.tasks.retries import retry_args

SETTINGS = Settings()


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["cqrs-warehouse", "maintenance"],
    default_args={**retry_args(), **time_limits(SETTINGS), "on_failure_callback": on_task_failure},
    params={
        "from_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Reprocess from (UTC date)",
            description=(
                "Empty: full refresh, every mart rebuilt from the whole raw event log. "
                "A date (YYYY-MM-DD): incremental marts reprocess the events that occurred "
                "on or after it (dbt var rebuild_from)."
            ),
        ),
    },
    render_template_as_native_obj=False,
)
def rebuild_views() -> None:
    """Manual rebuild of the marts from the event log (a full refresh, or from a date), then
    the same Great Expectations gate and publish step as the pipeline: the serving views
    change only if every check passes.
    """

    rebuild = dbt_task_group(
        SETTINGS,
        "dbt_rebuild",
        full_refresh="{{ not params.from_date }}",
        dbt_vars={"rebuild_from": "{{ params.from_date or '' }}"},
    )
    _, validate_marts = check_and_publish()  # the raw tables' part starts with the rebuild
    rebuild >> validate_marts


rebuild_views()
