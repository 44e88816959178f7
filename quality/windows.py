"""Checks that cost what is new: how far each of the pipeline's checks got.

Each check keeps in ``marts.checked_windows`` a bound below which every row it looks at has
passed it; the pipeline's checks read only the rows at or above it, and move it up only when
they pass, so a failure is looked at again by the next run. The daily audit reads every row
(docs/adr/check-windows.md).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import MARTS, MARTS_SCHEMA

WINDOWS_TABLE = "marts.checked_windows"
# The window of the dbt data tests is kept by dbt itself (dbt_project/macros/check_windows.sql).
DBT_CHECK = "dbt"

# The column each part of the gate windows by: raw rows by the transaction that wrote them,
# mart rows by the horizon of the build that last changed them.
WINDOW_COLUMNS = {"raw": "ingest_txid", "marts": "changed_at_watermark"}


def check_name(part: str) -> str:
    return f"gate_{part}"


def window_condition(part: str, checked_below: int) -> str:
    """SQL condition on the rows ``part`` has not checked yet, those at or above
    ``checked_below`` (read by ``checked_below``). A number, not a subquery on the windows
    table: with a subquery PostgreSQL plans for a third of the table and reads a
    10,000,000-event history whole to check a few thousand new rows (docs/benchmarks.md,
    whole pass). No parameters (GX query assets take none): the column comes from this
    module, the bound is an int."""
    return f"{WINDOW_COLUMNS[part]} >= {int(checked_below)}"


def bound_now(settings: Settings, part: str) -> int:
    """What ``part`` will have checked once its suites, started after this call, pass.

    Raw: the oldest transaction still running (every one below it has committed, so the
    suites see its rows). Marts: one past the newest build horizon on a mart row (no build
    runs while the gate checks the marts)."""
    with connections.connect(
        settings, WAREHOUSE_DATABASE, autocommit=True, role=DbRole.PUBLISHER
    ) as conn:
        query: sql.Composable
        if part == "raw":
            query = sql.SQL("select pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        else:
            built = [mart.name for mart in MARTS if _exists(conn, mart.name)]
            if not built:
                return 0
            newest = sql.SQL(" union all ").join(
                sql.SQL("select max(changed_at_watermark) as at from {}").format(
                    sql.Identifier(MARTS_SCHEMA, name)
                )
                for name in built
            )
            query = sql.SQL("select coalesce(max(at) + 1, 0) from ({}) as newest").format(newest)
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _exists(conn: psycopg.Connection, mart: str) -> bool:
    found = conn.execute("select to_regclass(%s) is not null", (f"{MARTS_SCHEMA}.{mart}",))
    row = found.fetchone()
    return bool(row and row[0])


def record_checked(settings: Settings, part: str, below: int) -> None:
    """``part`` passed on every row below ``below``: the next run starts there."""
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.PUBLISHER) as conn:
        conn.execute(
            "insert into marts.checked_windows (check_name, checked_below) values (%s, %s)"
            " on conflict (check_name) do update"
            " set checked_below = greatest(checked_windows.checked_below, excluded.checked_below),"
            " checked_at = now()",
            (check_name(part), below),
        )


def checked_below(settings: Settings, check: str) -> int:
    with connections.connect(
        settings, WAREHOUSE_DATABASE, autocommit=True, role=DbRole.PUBLISHER
    ) as conn:
        row = conn.execute(
            "select checked_below from marts.checked_windows where check_name = %s", (check,)
        ).fetchone()
    return 0 if row is None else int(row[0])
