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


def publish_step(settings: Settings) -> dict[str, int]:
    """Publish the marts that passed dbt build to the serving schema; return rows per view."""
    return publish_views(settings)
