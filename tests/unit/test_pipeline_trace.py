"""The pipeline's steps as spans of one run's trace (spans collected in memory, no IO)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from config import tracing
from config.settings import Settings
from pipeline.steps import step_span
from pipeline.tasks.spans import record_dbt_span


def test_airflow_tasks_of_one_run_put_their_steps_in_the_same_trace(
    spans: InMemorySpanExporter,
) -> None:
    run = ("cqrs_warehouse_pipeline", "scheduled__2026-11-27T10:00:00+00:00")
    for step in ("ingest", "gate", "publish"):  # each in its own task, as Airflow runs them
        with step_span(Settings(), step, run):
            pass
    expected = trace.get_current_span(tracing.run_context(*run)).get_span_context().trace_id
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == ["ingest", "gate", "publish"]
    assert {s.context.trace_id for s in finished} == {expected}
    assert all(s.attributes and s.attributes["pipeline.run_id"] == run[1] for s in finished)


def test_a_run_from_the_cli_is_one_root_span_with_a_child_per_step(
    spans: InMemorySpanExporter,
) -> None:
    with step_span(Settings(), "pipeline run"):
        for step in ("ingest", "dbt build", "gate", "publish"):
            with step_span(Settings(), step):
                pass
    *steps, root = spans.get_finished_spans()
    assert root.name == "pipeline run" and root.parent is None
    assert [s.name for s in steps] == ["ingest", "dbt build", "gate", "publish"]
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in steps)


def test_a_dbt_task_records_its_build_in_the_runs_trace(spans: InMemorySpanExporter) -> None:
    started = datetime(2026, 11, 27, 10, 0, 5, tzinfo=UTC)
    ti = SimpleNamespace(
        dag_id="cqrs_warehouse_pipeline", run_id="scheduled__2026-11-27T10:00:00+00:00",
        task_id="dbt_build.products_model_build", start_date=started,
    )  # fmt: skip
    record_dbt_span({"ti": ti})
    [span] = spans.get_finished_spans()
    run = tracing.run_context(ti.dag_id, ti.run_id)
    assert span.name == "dbt build dbt_build.products_model_build"
    assert span.context.trace_id == trace.get_current_span(run).get_span_context().trace_id
    assert span.start_time == int(started.timestamp() * 1e9)
    assert span.end_time is not None and span.end_time > span.start_time
