"""The loud part of a failed run: a log line, a metric and a row in ``ops.pipeline_alerts``."""

from __future__ import annotations

import logging
from typing import Any

from config.settings import Settings
from pipeline import ops

log = logging.getLogger(__name__)

FAILURE_METRIC = "pipeline.steps.task_failures"


def on_task_failure(context: Any) -> None:
    """``on_failure_callback`` of every pipeline task: runs once the task has failed for good."""
    from airflow.sdk.observability import stats

    ti = context["ti"]
    error = context.get("exception")
    reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
    log.error(
        "PIPELINE ALERT: task %s of %s failed in run %s (try %s); the serving views were left"
        " as they were.\n%s",
        ti.task_id,
        ti.dag_id,
        ti.run_id,
        ti.try_number,
        reason,
    )
    stats.incr(FAILURE_METRIC, tags={"dag_id": ti.dag_id, "task_id": ti.task_id})
    try:
        ops.record_alert(Settings(), ti.dag_id, ti.task_id, ti.run_id, ti.try_number, reason)
    except Exception:  # the database may be what failed; the log line above still stands
        log.exception("could not record the alert in ops.pipeline_alerts")
