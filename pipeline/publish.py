"""Publish: copy the audited marts into the ``serving`` schema readers use, in one transaction.

dbt builds and tests the marts in schema ``marts``; nothing reads them there. Once the build
and every check passed, ``publish_views`` upserts into ``serving.<mart>`` the rows changed
since the last publication (each mart row carries the watermark of the run that last changed
it, indexed), and records the new watermark in ``serving.publications``, all in one
transaction: readers see the previous publication or the new one, never a mix.

A view whose mart holds no row changed since its last publication is not published again (no
row, no ``NOTIFY``: the answers read APIs keep of it stay valid); its last publication only
records that this run checked it (``checked_at``).
Why and how: docs/adr/write-audit-publish.md.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.errors import LockNotAvailable

from config.database_settings import DbRole
from config.settings import Settings
from contracts.catalog import raw_table
from database import connections
from database.locks import PUBLISH_LOCK
from database.names import WAREHOUSE_DATABASE
from database.warehouse import (
    MARTS,
    MARTS_SCHEMA,
    PUBLICATIONS_CHANNEL,
    RAW_SCHEMA,
    SERVING_SCHEMA,
    Mart,
)
from pipeline import serving_tables

SOURCE_SCHEMA = MARTS_SCHEMA


class PublishFailed(RuntimeError):
    """A mart is missing or unreadable; nothing was published."""


def publish_views(settings: Settings) -> dict[str, int]:
    """Publish every mart's changes since the last publication; return rows written per view
    published (a view that did not change is left out).

    Call it only after dbt build (and any other check) passed: it copies what the marts hold.
    Cost is proportional to the rows changed since the last publication, except when a mart
    was rebuilt from scratch (full refresh), which is copied whole.
    """
    # Every wait for a lock (the publish lock, a serving table a reader holds) is bounded by
    # the connection's lock_timeout; past it the publication fails whole and says why.
    with connections.connect(
        settings, WAREHOUSE_DATABASE, autocommit=True, role=DbRole.PUBLISHER
    ) as conn:
        try:
            # Two publishers at once would each copy and record; one waits for the other.
            conn.execute("select pg_advisory_lock(%s)", (PUBLISH_LOCK,))
        except LockNotAvailable:
            raise PublishFailed(_lock_wait(settings, "another publication")) from None
        try:
            # One snapshot for all marts: the published views describe the same moment.
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                written = {view.name: _publish(conn, view) for view in MARTS}
                return {name: rows for name, rows in written.items() if rows is not None}
        except LockNotAvailable:
            raise PublishFailed(
                _lock_wait(settings, "another session on a serving table")
            ) from None
        finally:
            conn.isolation_level = None
            conn.execute("select pg_advisory_unlock(%s)", (PUBLISH_LOCK,))


def _lock_wait(settings: Settings, holder: str) -> str:
    return (
        f"waited {settings.pg_lock_timeout_s:g}s (CQRSW_PG_LOCK_TIMEOUT_S) for a lock held by"
        f" {holder}; nothing was published, the serving views are unchanged"
    )


def _publish(conn: psycopg.Connection, view: Mart) -> int | None:
    """Publish ``view`` if its mart changed since its last publication: the rows written, or
    None when it did not change (then only ``checked_at`` of its last publication moves)."""
    source = sql.Identifier(SOURCE_SCHEMA, view.name)
    target = sql.Identifier(SERVING_SCHEMA, view.name)
    columns = _columns(conn, SOURCE_SCHEMA, view.name)
    if not columns:
        raise PublishFailed(f"{SOURCE_SCHEMA}.{view.name} does not exist: run dbt build first")
    # Both ends of the mart's watermark index: two index probes, whatever the mart's size.
    row = conn.execute(
        sql.SQL("select min(changed_at_watermark), max(changed_at_watermark) from {}").format(
            source
        )
    ).fetchone()
    assert row is not None
    oldest, newest = row
    last = _last_watermark(conn, view.name)
    reshaped = _columns(conn, SERVING_SCHEMA, view.name) != columns or not (
        serving_tables.partitioned_alike(conn, view.name)
    )
    if not (reshaped or _changed(conn, view, newest, last)):
        conn.execute(
            "update serving.publications set checked_at = now() where id = ("
            " select max(id) from serving.publications where view_name = %s)",
            (view.name,),
        )
        return None
    if reshaped:
        # First publication, or the mart's contract or partitioning changed: a new table.
        conn.execute(sql.SQL("drop table if exists {}").format(target))
        serving_tables.create_like_mart(conn, view.name)
    # A partitioned mart's new months get their partitions before rows arrive for them.
    serving_tables.mirror_partitions(conn, view.name)
    if reshaped or last is None or oldest is None or oldest > last:
        # Every row changed since the last publication (a first build, a full refresh): copy
        # the mart whole, so rows that left it leave serving too.
        conn.execute(sql.SQL("delete from {}").format(target))
        insert = sql.SQL("insert into {} select * from {}").format(target, source)
        mode, written = "replace", conn.execute(insert).rowcount
    else:
        mode, written = "upsert", _upsert(conn, view, [name for name, _ in columns], since=last)
    # Readers learn when each view was last published and how new the newest event it
    # includes is (what its watermark covers).
    watermark = newest if newest is not None else (last or 0)
    conn.execute(
        "insert into serving.publications"
        " (view_name, watermark, mode, rows_written, newest_event_at, checked_at)"
        " values (%s, %s, %s, %s, %s, now())",
        (view.name, watermark, mode, written, _newest_event_at(conn, view, last, watermark)),
    )
    # Delivered at commit, to read APIs listening: they stop serving answers they kept.
    conn.execute("select pg_notify(%s, %s)", (PUBLICATIONS_CHANNEL, view.name))
    return written


def _changed(conn: psycopg.Connection, view: Mart, newest: int | None, last: int | None) -> bool:
    """Whether the mart differs from the view's last publication: never published, a row
    changed by a later run than it covers, or emptied while serving still holds rows."""
    if last is None:
        return True
    if newest is not None:
        return bool(newest > last)
    served = conn.execute(
        sql.SQL("select exists (select from {})").format(sql.Identifier(SERVING_SCHEMA, view.name))
    ).fetchone()
    return bool(served and served[0])


def _newest_event_at(
    conn: psycopg.Connection, view: Mart, last: int | None, watermark: int
) -> datetime | None:
    """Newest ``occurred_at`` of the view's events below ``watermark``: the last publication's
    value and the raw rows in [last watermark, watermark), an index range on ``ingest_txid``."""
    previous = conn.execute(
        "select newest_event_at from serving.publications where view_name = %s"
        " order by id desc limit 1",
        (view.name,),
    ).fetchone()
    since = last if last is not None and previous is not None else 0
    window = sql.SQL(" union all ").join(
        sql.SQL(
            "select max(occurred_at) as at from {} where ingest_txid >= %(since)s"
            " and ingest_txid < %(until)s"
        ).format(sql.Identifier(RAW_SCHEMA, raw_table(topic)))
        for topic in view.topics
    )
    row = conn.execute(
        sql.SQL("select greatest(max(at), %(previous)s::timestamptz) from ({}) as newest").format(
            window
        ),
        {"since": since, "until": watermark, "previous": previous[0] if previous else None},
    ).fetchone()
    return None if row is None else row[0]


def _upsert(conn: psycopg.Connection, view: Mart, columns: list[str], *, since: int) -> int:
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c))
        for c in columns
        if c not in view.key
    )
    statement = sql.SQL(
        "insert into {target} ({cols}) select {cols} from {source}"
        " where changed_at_watermark > %s"
        " on conflict ({key}) do update set {updates}"
    ).format(
        target=sql.Identifier(SERVING_SCHEMA, view.name),
        source=sql.Identifier(SOURCE_SCHEMA, view.name),
        cols=cols,
        key=sql.SQL(", ").join(map(sql.Identifier, view.key)),
        updates=updates,
    )
    return conn.execute(statement, (since,)).rowcount


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "select attname, format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
        (f"{schema}.{table}",),
    ).fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


def _last_watermark(conn: psycopg.Connection, view: str) -> int | None:
    row = conn.execute(
        "select watermark from serving.publications where view_name = %s order by id desc limit 1",
        (view,),
    ).fetchone()
    return None if row is None else int(row[0])
