"""The steps of the warehouse pipeline, as plain functions the Airflow tasks call."""

from __future__ import annotations

from typing import Any

from cqrsw.dbt import run_dbt
from cqrsw.publish import publish_views
from ingest.job import run_ingest
from services.settings import Settings


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
    from cqrsw import ops

    freshness = ops.record_publication(settings, published, dag_id, run_id)
    return {
        "published_at": freshness.published_at.isoformat(),
        "newest_event_at": (
            freshness.newest_event_at.isoformat() if freshness.newest_event_at else None
        ),
        "lag_seconds": freshness.lag_seconds,
        "views": published,
    }
