"""Read-your-writes: is the write a position token names in the view being served?

A write is included once its raw row was written by a transaction below the watermark of
the view's latest publication (docs/adr/incremental-watermark.md): every such row was
folded into the mart that was checked and published. Until then it is either not ingested
yet (still in the write service's outbox or in Kafka: the warehouse cannot tell which) or
ingested and waiting for the next build and publication.

Freshness is read before the rows it describes (or kept from a recent read, for a read
without a token: services/read_api/freshness_cache.py), so a publication that lands in between makes
the answer newer than its headers say, never older: "included" is never claimed too early.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import psycopg
from psycopg import sql

from contracts.catalog import raw_table
from database.warehouse import MARTS_BY_NAME, RAW_SCHEMA
from services import position
from services.read_api import freshness
from services.read_api.freshness_cache import FreshnessCache
from services.read_api.retry import retry_after_seconds


class Stage(StrEnum):
    INCLUDED = "included"
    NOT_INGESTED = "not-ingested"  # in the outbox or in Kafka
    INGESTED = "ingested"  # in raw, waiting for the next build and publication
    UNRELATED = "unrelated"  # the event's topic does not feed this view


async def stage_of(
    conn: psycopg.AsyncConnection, where: position.Position, view: freshness.ViewFreshness
) -> Stage:
    if where.topic not in MARTS_BY_NAME[view.view].topics:
        return Stage.UNRELATED
    cur = await conn.execute(
        sql.SQL("select ingest_txid from {} where event_id = %s").format(
            sql.Identifier(RAW_SCHEMA, raw_table(where.topic))
        ),
        (where.event_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return Stage.NOT_INGESTED
    return Stage.INCLUDED if int(row[0]) < view.watermark else Stage.INGESTED


async def describe(
    conn: psycopg.AsyncConnection,
    headers: dict[str, str],
    view: str,
    where: position.Position | None,
    lookups: FreshnessCache | None = None,
) -> None:
    """Add the freshness headers of ``view`` and, given a position, whether its write is in.
    With ``lookups``, a read without a token may take its headers from a recent lookup."""
    if lookups is None:
        fresh = await freshness.of_view(conn, view)
    else:
        fresh = await lookups.of_view(conn, view, exact=where is not None)
    _freshness_headers(headers, fresh)
    if where is None:
        return
    stage = await stage_of(conn, where, fresh)
    headers["X-Position-Stage"] = stage.value
    headers["X-Position-Included"] = _INCLUDED_HEADER[stage]
    if _pending(stage):
        recent = await freshness.recent_publications(conn, view)
        headers["Retry-After"] = str(retry_after_seconds(recent, datetime.now(UTC)))


def describe_kept(headers: dict[str, str], view: str, lookups: FreshnessCache) -> bool:
    """Add the freshness headers of ``view`` from a recent lookup, without IO, as ``describe``
    would for a read without a position; False when nothing recent is kept."""
    fresh = lookups.kept(view)
    if fresh is None:
        return False
    _freshness_headers(headers, fresh)
    return True


def _freshness_headers(headers: dict[str, str], fresh: freshness.ViewFreshness) -> None:
    headers["X-View"] = fresh.view
    headers["X-View-Published-At"] = fresh.published_at.isoformat()
    if fresh.newest_event_at is not None:
        headers["X-View-Newest-Event-At"] = fresh.newest_event_at.isoformat()


_INCLUDED_HEADER = {
    Stage.INCLUDED: "true",
    Stage.NOT_INGESTED: "false",
    Stage.INGESTED: "false",
    Stage.UNRELATED: "unrelated",
}


def _pending(stage: Stage) -> bool:
    return stage in (Stage.NOT_INGESTED, Stage.INGESTED)
