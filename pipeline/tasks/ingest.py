"""The head of the pipeline DAG: ingest new events, and skip the rest if nothing is new."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from airflow.sdk import get_current_context, task

from config.dag_settings import DagSettings
from config.settings import Settings
from pipeline import arrivals
from pipeline import steps as pipeline
from pipeline.tasks.gate_and_publish import run_of
from pipeline.tasks.limits import ingest_timeout

CONTINUOUS = "@continuous"

log = logging.getLogger(__name__)


def ingest_or_skip() -> Any:
    """The ``ingest`` task, inside a DAG; returns it.

    A scheduled run of a continuous DAG waits in ``ingest`` for new events (see
    ``pipeline.arrivals``); a run started by hand or by a cron schedule does not wait.
    ``ingest`` is a short-circuit: when nothing is left to build (nothing new, nothing
    unpublished) it returns False and every task after it is skipped, so an empty run costs
    an ingest probe and no dbt, gate or publish. One task, not an ingest and a check after
    it: each task costs a run about a second of start-up and scheduling (docs/benchmarks.md).
    """

    @task.short_circuit(execution_timeout=ingest_timeout(DagSettings()))
    def ingest() -> dict[str, Any] | bool:
        settings = Settings()
        context = get_current_context()
        run_type = context["dag_run"].run_type
        scheduled = str(getattr(run_type, "value", run_type)) == "scheduled"
        waits = settings.pipeline_schedule == CONTINUOUS and scheduled
        summary = arrivals.ingest_when_new(
            settings,
            partial(pipeline.ingest_step, run=run_of(context)),
            wait_s=settings.pipeline_idle_wait_s if waits else 0,
            poll_s=settings.pipeline_poll_s,
        )
        if arrivals.needs_build(settings, summary, context["ti"].dag_id):
            # Before the one incremental `dbt build`: a mart whose contract an upgrade changed
            # is rebuilt whole first (pipeline/mart_contracts.py).
            pipeline.reshaped_marts_step(settings, run_of(context))
            return summary
        log.info("nothing new to build or publish: %s", summary)
        return False

    return ingest()
