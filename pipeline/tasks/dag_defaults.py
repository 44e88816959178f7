"""What the project's DAGs share: start date, one active run at a time, tags, and the task
defaults (retries, time limits, the failure alert).

The DAG files call ``dag_arguments`` when Airflow parses them: it reads ``DagSettings``
(schedule, catch-up, time limits) and nothing else of the configuration.
"""

from __future__ import annotations

from typing import Any

import pendulum

from config.dag_settings import DagSettings
from pipeline.tasks.alerts import on_task_failure
from pipeline.tasks.limits import time_limits
from pipeline.tasks.retries import retry_args

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
TAG = "cqrs-warehouse"


def task_defaults(settings: DagSettings) -> dict[str, Any]:
    """``default_args`` of every DAG: retry only what is transient, a time limit, an alert."""
    return {**retry_args(), **time_limits(settings), "on_failure_callback": on_task_failure}


def dag_arguments(*tags: str, schedule: Any = None, pipeline: bool = False) -> dict[str, Any]:
    """Keyword arguments of ``@dag`` for one of the project's DAGs, tagged ``tags``.

    ``pipeline``: the warehouse pipeline, whose schedule and catch-up are configured
    (``CQRSW_PIPELINE_SCHEDULE``, ``CQRSW_PIPELINE_CATCHUP``); any other DAG runs on
    ``schedule`` and never catches up.
    """
    settings = DagSettings()
    return {
        "schedule": settings.pipeline_schedule if pipeline else schedule,
        "start_date": START_DATE,
        "catchup": settings.pipeline_catchup if pipeline else False,
        "max_active_runs": 1,
        "tags": [TAG, *tags],
        "default_args": task_defaults(settings),
    }
