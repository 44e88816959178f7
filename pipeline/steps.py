"""The steps of the warehouse pipeline, as plain functions the Airflow tasks call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context

from config import tracing
from config.settings import Settings
from ingest.job import run_ingest
from pipeline.dbt import PIPELINE_EXCLUDE, run_dbt
from pipeline.publish import publish_views


@contextmanager
def step_span(settings: Settings, step: str, run: tuple[str, str] | None = None) -> Iterator[None]:
    """A span for one step; given ``(dag_id, run_id)`` it joins that run's trace.

    Airflow runs each task in its own process: the run's trace id is derived from its ids
    (``tracing.run_context``), so every task's step lands in the same trace.
    """
    tracing.configure(settings, "pipeline")
    parent = tracing.run_context(*run) if run is not None else otel_context.get_current()
    attributes = {"pipeline.dag_id": run[0], "pipeline.run_id": run[1]} if run else {}
    try:
        with tracing.tracer(__name__).start_as_current_span(
            step, context=parent, attributes=attributes
        ):
            yield
    finally:
        if run is not None:  # an Airflow task: its process may end without running atexit
            tracing.flush()


def ingest_step(settings: Settings, run: tuple[str, str] | None = None) -> dict[str, Any]:
    """Sink the topics into raw tables; return a per-topic summary for the task log and XCom."""
    with step_span(settings, "ingest", run):
        report = run_ingest(settings)
    return {
        "messages": report.messages,
        "resets": report.resets,
        "topics": {
            topic: {"rows": t.rows_written, "dead_letters": t.dead_letters, "lag": t.lag_left}
            for topic, t in report.topics.items()
        },
    }


def reshaped_marts_step(settings: Settings, run: tuple[str, str] | None = None) -> list[str]:
    """Rebuild whole the marts whose contract changed since they were built (an upgrade), so
    the incremental build after it succeeds; return their names (mostly none)."""
    from pipeline.mart_contracts import rebuild_reshaped_marts

    with step_span(settings, "rebuild reshaped marts", run):
        return rebuild_reshaped_marts(settings)


def dbt_build_step(settings: Settings) -> None:
    """Build the staging views and marts and run their data tests; raise if any fails."""
    reshaped_marts_step(settings)
    with step_span(settings, "dbt build"):
        run_dbt(settings, "build", "--exclude", *PIPELINE_EXCLUDE)


def dbt_build_in_task(settings: Settings, run: tuple[str, str]) -> dict[str, Any]:
    """The pipeline DAG's ``dbt build``: in this process, through ``dbtRunner`` (dbt is
    imported already in an Airflow worker); each node's status, or ``DbtFailed`` naming
    those that failed."""
    from pipeline.dbt_runner import run_build

    with step_span(settings, "dbt build", run):
        return run_build(settings, timeout_s=settings.dbt_build_timeout_s).as_dict()


def validate_step(
    settings: Settings, run: tuple[str, str] | None = None, part: str | None = None
) -> dict[str, Any]:
    """Great Expectations gate on the raw tables and the marts, or on one ``part`` of them
    (``raw``, ``marts``); raise if any check fails."""
    from quality.gate import run_gate_parts

    with step_span(settings, f"gate ({part})" if part else "gate", run):
        return run_gate_parts(settings, [part] if part else None).as_dict()


def data_docs_step(settings: Settings, run: tuple[str, str] | None = None) -> str | None:
    """Render the gate's newest results as Data Docs; after publish, so no reader waits on it."""
    from quality.data_docs import build_data_docs

    with step_span(settings, "data docs", run):
        index = build_data_docs(settings)
    return str(index) if index is not None else None


def publish_step(settings: Settings, run: tuple[str, str] | None = None) -> dict[str, int]:
    """Publish the checked marts to the serving schema in one transaction (write-audit-publish)."""
    with step_span(settings, "publish", run):
        return publish_views(settings)


def record_freshness_step(
    settings: Settings, published: dict[str, int], dag_id: str, run_id: str
) -> dict[str, Any]:
    """Record what was published and how old its newest event is (``ops.view_publications``)."""
    from pipeline import ops

    freshness = ops.record_publication(settings, published, dag_id, run_id)
    return {
        "published_at": freshness.published_at.isoformat(),
        "newest_event_at": (
            freshness.newest_event_at.isoformat() if freshness.newest_event_at else None
        ),
        "lag_seconds": freshness.lag_seconds,
        "views": published,
    }


def gated_publish(settings: Settings) -> tuple[dict[str, Any], dict[str, int]]:
    """The gate, then publish: what a person may publish by hand is what the DAG would."""
    gate = validate_step(settings)
    published = publish_step(settings)
    data_docs_step(settings)
    return gate, published


def run_pipeline(
    settings: Settings, on_step: Callable[[str, Any], None] = lambda step, result: None
) -> dict[str, Any]:
    """One pass as the DAG runs it: ingest, dbt build, gate, publish, record freshness, then
    the gate's Data Docs.

    Each step raises on failure, so a failed build or check stops the run before publish and
    the serving views stay as they were.
    """
    run_id = f"manual__{datetime.now(UTC).isoformat()}"
    with step_span(settings, "pipeline run"):
        return _run_steps(settings, run_id, on_step)


def _run_steps(
    settings: Settings, run_id: str, on_step: Callable[[str, Any], None]
) -> dict[str, Any]:
    results: dict[str, Any] = {"ingest": ingest_step(settings)}
    on_step("ingest", results["ingest"])
    dbt_build_step(settings)
    on_step("dbt build", None)
    results["validate"] = validate_step(settings)
    on_step("validate", results["validate"])
    results["publish"] = publish_step(settings)
    on_step("publish", results["publish"])
    results["freshness"] = record_freshness_step(settings, results["publish"], "cli", run_id)
    on_step("record freshness", results["freshness"])
    results["data docs"] = data_docs_step(settings)
    on_step("data docs", results["data docs"])
    return results
