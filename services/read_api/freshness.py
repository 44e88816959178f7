"""How fresh each published view is: when it was published, when a run last checked it, and
its newest event."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import class_row
from pydantic import Field

from database.warehouse import MARTS
from services.read_api.serving import CamelModel, NotPublished, published

VIEWS: tuple[str, ...] = tuple(mart.name for mart in MARTS)


class ViewFreshness(CamelModel):
    view: str
    published_at: datetime = Field(
        description="When the view was last published: when its content last changed"
    )
    checked_at: datetime = Field(
        description="When a pipeline run last looked at the view (found it changed and"
        " published it, or found nothing new); at or after publishedAt"
    )
    newest_event_at: datetime | None = Field(
        description="occurred_at of the newest event the view includes"
    )
    lag_seconds: float | None = Field(
        description="Now minus newestEventAt: how far behind the events the view is"
    )
    published_seconds_ago: float
    watermark: int = Field(exclude=True)


# One index probe per view on (view_name, id): the latest publication of each.
LATEST_SQL = (
    "select views.name as view, latest.published_at,"
    " coalesce(latest.checked_at, latest.published_at) as checked_at, latest.newest_event_at,"
    " extract(epoch from now() - latest.newest_event_at)::float8 as lag_seconds,"
    " extract(epoch from now() - latest.published_at)::float8 as published_seconds_ago,"
    " latest.watermark"
    " from unnest(%(views)s::text[]) with ordinality as views (name, position)"
    " cross join lateral ("
    "   select p.published_at, p.checked_at, p.newest_event_at, p.watermark"
    "   from serving.publications as p"
    "   where p.view_name = views.name order by p.id desc limit 1"
    " ) as latest order by views.position"
)


async def latest(
    conn: psycopg.AsyncConnection, views: tuple[str, ...] = VIEWS
) -> list[ViewFreshness]:
    with published():
        async with conn.cursor(row_factory=class_row(ViewFreshness)) as cur:
            await cur.execute(LATEST_SQL, {"views": list(views)})
            return await cur.fetchall()


async def of_view(conn: psycopg.AsyncConnection, view: str) -> ViewFreshness:
    found = await latest(conn, (view,))
    if not found:
        raise NotPublished(f"view {view} has not been published yet: the pipeline has not run")
    return found[0]


async def recent_publications(
    conn: psycopg.AsyncConnection, view: str, count: int = 6
) -> list[datetime]:
    """When ``view`` was published lately, newest first."""
    cur = await conn.execute(
        "select published_at from serving.publications where view_name = %s"
        " order by id desc limit %s",
        (view, count),
    )
    return [row[0] for row in await cur.fetchall()]
