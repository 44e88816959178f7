"""The head of the pipeline DAG: ingest new events, then skip the rest if nothing is new."""

from __future__ import annotations

from functools import partial
from typing import Any

from airflow.sdk import get_current_context, task

from config.settings import Settings
from pipeline import arrivals
from pipeline import steps as pipeline
from pipeline.tasks.gate_and_publish import run_of
from pipeline.tasks.limits import ingest_timeout

CONTINUOUS = "@continuous"


def ingest_then_check(dag_settings: Settings) -> tuple[Any, Any]:
    """ingest >> anything_new, inside a DAG; returns both tasks.

    A scheduled run of a continuous DAG waits in ``ingest`` for new events (see
    ``pipeline.arrivals``); a run started by hand or by a cron schedule does not wait.
    ``anything_new`` is a short-circuit: when it returns False every task after it is
    skipped, so an empty run costs an ingest probe and no dbt, gate or publish.
    """

    @task(execution_timeout=ingest_timeout(dag_settings))
    def ingest() -> dict[str, Any]:
        settings = Settings()
        context = get_current_context()
        run_type = context["dag_run"].run_type
        scheduled = str(getattr(run_type, "value", run_type)) == "scheduled"
        waits = settings.pipeline_schedule == CONTINUOUS and scheduled
        return arrivals.ingest_when_new(
            settings,
            partial(pipeline.ingest_step, run=run_of(context)),
            wait_s=settings.pipeline_idle_wait_s if waits else 0,
            poll_s=settings.pipeline_poll_s,
        )

    @task.short_circuit
    def anything_new() -> bool:
        ti = get_current_context()["ti"]
        summary = ti.xcom_pull(task_ids="ingest")
        return arrivals.needs_build(Settings(), summary, ti.dag_id)

    ingested = ingest()
    check = anything_new()
    ingested >> check
    return ingested, check
