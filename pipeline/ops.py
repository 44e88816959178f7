"""Operational records in the warehouse: view publications (freshness) and pipeline alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.registry import RAW_TABLES


@dataclass(frozen=True)
class Freshness:
    published_at: datetime
    newest_event_at: datetime | None
    lag_seconds: float | None


def record_publication(
    settings: Settings, row_counts: dict[str, int], dag_id: str, run_id: str
) -> Freshness:
    """Store one row per published view with the age of the newest event behind it."""
    newest = sql.SQL(" union all ").join(
        sql.SQL("select max(occurred_at) as at from {}").format(sql.Identifier(*table.split(".")))
        for table in RAW_TABLES.values()
    )
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.PUBLISHER) as conn:
        row = conn.execute(
            sql.SQL(
                "select now(), max(at), extract(epoch from now() - max(at))::float8"
                " from ({}) as newest"
            ).format(newest)
        ).fetchone()
        assert row is not None
        published_at, newest_event_at, lag = row
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.view_publications (view_name, row_count, published_at,"
                " newest_event_at, lag_seconds, dag_id, run_id)"
                " values (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (view, count, published_at, newest_event_at, lag, dag_id, run_id)
                    for view, count in sorted(row_counts.items())
                ],
            )
    return Freshness(published_at, newest_event_at, lag)


def record_alert(
    settings: Settings, dag_id: str, task_id: str, run_id: str, try_number: int | None, error: str
) -> None:
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.PUBLISHER) as conn:
        conn.execute(
            "insert into ops.pipeline_alerts (dag_id, task_id, run_id, try_number, error)"
            " values (%s, %s, %s, %s, %s)",
            (dag_id, task_id, run_id, try_number, error[:4000]),
        )
