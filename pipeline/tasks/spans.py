"""Spans for the dbt tasks Cosmos renders: each model's build joins its run's trace.

Cosmos runs dbt inside its own operators, so there is no step function to wrap; the
task's success callback records the span afterwards, from the task's start to now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config import tracing
from config.settings import Settings


def _nanoseconds(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1e9) if moment is not None else None


def record_dbt_span(context: Any) -> None:
    """``on_success_callback`` of a dbt task: a ``dbt build <task>`` span in the run's trace."""
    record_task_span(context["ti"])


def record_task_span(ti: Any) -> None:
    """The ``dbt build <task>`` span of ``ti`` (dag_id, run_id, task_id, start_date), from
    its start to now."""
    tracing.configure(Settings(), "pipeline")
    span = tracing.tracer(__name__).start_span(
        f"dbt build {ti.task_id}",
        context=tracing.run_context(ti.dag_id, ti.run_id),
        start_time=_nanoseconds(getattr(ti, "start_date", None)),
        attributes={"pipeline.dag_id": ti.dag_id, "pipeline.run_id": ti.run_id},
    )
    span.end()
    tracing.flush()
