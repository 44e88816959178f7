"""The steps of the warehouse pipeline, as plain functions the Airflow tasks call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from config.settings import Settings
from ingest.job import run_ingest
from pipeline.dbt import run_dbt
from pipeline.publish import publish_views


def ingest_step(settings: Settings) -> dict[str, Any]:
    """Sink the topics into raw tables; return a per-topic summary for the task log and XCom."""
    report = run_ingest(settings)
    return {
        "messages": report.messages,
        "resets": report.resets,
        "topics": {
            topic: {"rows": t.rows_written, "dead_letters": t.dead_letters, "lag": t.lag_left}
            for topic, t in report.topics.items()
        },
    }


def dbt_build_step(settings: Settings) -> None:
    """Build the staging views and marts and run their tests; raise if any fails."""
    run_dbt(settings, "build")


def validate_step(settings: Settings) -> dict[str, Any]:
    """Great Expectations gate on the raw tables and the marts; raise if any check fails."""
    from quality.gate import run_gate

    return run_gate(settings).as_dict()


def publish_step(settings: Settings) -> dict[str, int]:
    """Publish the checked marts to the serving schema in one transaction (write-audit-publish)."""
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
    return gate, publish_step(settings)


def run_pipeline(
    settings: Settings, on_step: Callable[[str, Any], None] = lambda step, result: None
) -> dict[str, Any]:
    """One pass as the DAG runs it: ingest, dbt build, gate, publish, record freshness.

    Each step raises on failure, so a failed build or check stops the run before publish and
    the serving views stay as they were.
    """
    run_id = f"manual__{datetime.now(UTC).isoformat()}"
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
    return results
